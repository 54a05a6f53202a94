*** Settings ***
Documentation     Hostile mail never breaks or stalls a suite: the corpus of
...               utest/hostile_corpus.py (deep multipart and message/rfc822 nesting,
...               tens of thousands of parts, giant and encoded-word headers, huge
...               address lists, broken boundaries, base64 at scale) is sent by a
...               real client in another process, beside one ordinary mail.
...               Waits, filters and logging give the right answer for every message;
...               what the reader cut is listed in each message's defects.

Library           Collections
Library           OperatingSystem
Resource          resources/common.resource

Suite Setup       Receive Hostile Corpus
Suite Teardown    Stop Mock SMTP Server


*** Variables ***
${SENDER}    ${CURDIR}/resources/hostile_send.py
@{SHAPES}    deep_multipart    deep_rfc822    many_parts    huge_address_list
...          encoded_word_subject    giant_header    many_headers    giant_parameters
...          broken_boundaries    base64_at_scale    long_url    many_links


*** Test Cases ***
Waits Return Each Hostile Message
    FOR    ${shape}    IN    @{SHAPES}
        ${msg}=    Wait Until Message Is Received    recipient=${shape}@example.com
        Should Be Equal    ${msg.recipients}    ${{ [$shape + '@example.com'] }}
        Should Not Be Empty    ${msg.subject}
        Should Be True    $msg.size > 10000
    END
    ${welcome}=    Wait Until Message Is Received    subject=Welcome
    Should Be Equal    ${welcome.recipients}    ${{ ['alice@example.com'] }}

Filters Give The Right Answer Beside Hostile Mail
    Received Message Count Should Be    0    subject=Nothing Like This
    Received Message Count Should Be    1    subject=Welcome
    Received Message Count Should Be    1    body=Hello Alice
    Received Message Count Should Be    1    to=alice@example.com
    Received Message Count Should Be    1    from_address=shop@example.com
    Received Message Count Should Be    1    attachment=terms.txt
    Received Message Count Should Be    1    matching=shop\\.example\\.com/welcome
    Received Message Count Should Be    1    cc=user49999@example.com
    Received Message Count Should Be    1    header=X-Giant
    Received Message Count Should Be    1    subject=wörd31999
    Received Message Count Should Be    0    attachment=nothing.pdf
    Received Message Count Should Be    13

Hostile Messages Are Read As Far As The Limits
    ${deep}=    Get Only Message    deep_multipart
    Should Be Equal    ${deep.text.strip()}    outer text
    Should Contain    ${deep.defects}[0]    Nesting deeper than 100 levels
    ${forward}=    Get Only Message    deep_rfc822
    Should Be Equal    ${forward.attachments[0].content_type}    message/rfc822
    Should Start With    ${forward.attachments[0].content}    ${{ b'Subject: Fwd 1' }}
    Should Contain    ${forward.defects}[0]    Nesting deeper than 100 levels
    ${parts}=    Get Only Message    many_parts
    Length Should Be    ${parts.attachments}    998
    Should Contain    ${parts.defects}[0]    More than 1,000 MIME parts
    ${list}=    Get Only Message    huge_address_list
    Length Should Be    ${list.to}    50001
    Should Contain    ${list.summary()}    subject 'Huge address list'
    ${params}=    Get Only Message    giant_parameters
    Should Start With    ${params.attachments[0].filename}    é0é1é2
    ${url}=    Get Only Message    long_url
    Length Should Be    ${url.links}    1
    ${welcome}=    Get Only Message    alice
    Should Be Empty    ${welcome.defects}

Log Message Shows Every Hostile Message
    ${messages}=    Get Received Messages
    FOR    ${msg}    IN    @{messages}
        Log Message    ${msg}
    END
    Log Received Messages    recipient=deep_multipart@example.com

Failures List The Hostile Mail They Saw
    Run Keyword And Expect Error    *Received 13 messages*Deep multipart*
    ...    Wait Until Message Is Received    subject=Nothing Like This    timeout=0.2 s
    Run Keyword And Expect Error    *Huge address list*
    ...    Received Message Count Should Be    2    subject=Welcome
    ${parts}=    Get Only Message    many_parts
    ${error}=    Run Keyword And Expect Error    *nothing.pdf*
    ...    Message Should Have Attachment    ${parts}    nothing.pdf
    Should Be True    len($error) < 100000    The failure message is ${{ len($error) }} characters long


*** Keywords ***
Receive Hostile Corpus
    [Documentation]    Sends the corpus and one ordinary mail, and waits until all arrived.
    Start Server For Suite
    ${result}=    Run Process    python    ${SENDER}    ${PORT}    stderr=STDOUT    timeout=120 s
    Should Be Equal As Integers    ${result.rc}    0    Sending failed: ${result.stdout}
    VAR    ${terms}    ${OUTPUT DIR}/terms.txt
    Create File    ${terms}    Terms and conditions
    Send Mail    --sender    shop@example.com    --header-from    shop@example.com
    ...    --to    alice@example.com    --subject    Welcome
    ...    --text    Hello Alice, https://shop.example.com/welcome    --attach    ${terms}
    Wait Until Received Message Count Is    13

Get Only Message
    [Documentation]    The one message sent to ${shape}@example.com.
    [Arguments]    ${shape}
    ${messages}=    Get Received Messages    recipient=${shape}@example.com
    Length Should Be    ${messages}    1
    RETURN    ${messages}[0]
