*** Settings ***
Documentation     Verification codes and link checks on mail that a real client in another
...               process sends; the links point at a small web site in a third process.

Library           resources/codes_links_site.py
Resource          resources/common.resource

Suite Setup       Start Servers
Suite Teardown    Stop Servers
Test Setup        Reset Mock SMTP Server


*** Variables ***
${CODES}    ${CURDIR}/resources/codes


*** Test Cases ***
Codes Of Realistic Mails
    [Documentation]    Each template is sent as is by smtplib in another process.
    [Template]    Code In Template Should Be
    01_plain_signin.eml    048213
    02_html_table_base64.eml    739204
    03_spaced_digits.eml    482193
    04_digit_cells.eml    517930
    05_alphanumeric.eml    X7K9QP
    06_hyphenated_subject.eml    OR-520417
    07_german.eml    583920
    08_french.eml    274815
    09_spanish_latin1.eml    9037
    10_code_in_subject.eml    660417
    11_code_in_link.eml    615204
    12_date_and_order.eml    3391
    14_bare_number.eml    830512
    15_italian.eml    662013

Mail Without A Code Fails Showing The Searched Text
    ${msg}=    Send Template    13_no_code.eml
    Run Keyword And Expect Error
    ...    GLOB:No verification code in message #${msg.sequence}. Searched text:\nSubject: Your order 100235 has shipped\n\nHi Ivan,*$108.98*[[]Links]\nhttps://track.acme-store.example/p/5521907733?ref=mail-2026*
    ...    Get Verification Code From Message
    ...    ${msg}
    ${codes}=    Get Verification Code From Message    ${msg}    all=True
    Should Be Empty    ${codes}

All Candidates In Order Of Preference
    ${msg}=    Send Template    11_code_in_link.eml
    ${codes}=    Get Verification Code From Message    ${msg}    all=True
    Should Be Equal    ${codes}    ${{ ['615204', '5f2b9c'] }}

Pattern For Unusual Formats
    ${msg}=    Send Template    05_alphanumeric.eml
    ${promo}=    Get Verification Code From Message    ${msg}    pattern=promo code (\\w+)
    Should Be Equal    ${promo}    WELCOME10
    ${version}=    Get Verification Code From Message    ${msg}    pattern=regexp:v\\d+\\.\\d+\\.\\d+
    Should Be Equal    ${version}    v4.12.0
    Run Keyword And Expect Error
    ...    GLOB:No verification code matching pattern 'PIN: (\\d+)' in message #${msg.sequence}. Searched text:*
    ...    Get Verification Code From Message
    ...    ${msg}
    ...    pattern=PIN: (\\d+)
    Run Keyword And Expect Error
    ...    GLOB:Invalid regular expression '(' in pattern=: *
    ...    Get Verification Code From Message
    ...    ${msg}
    ...    pattern=(

Message Number Works Too
    ${msg}=    Send Template    08_french.eml
    ${code}=    Get Verification Code From Message    ${msg.sequence}
    Should Be Equal    ${code}    274815

Reachable Links Pass
    ${msg}=    Send Mail With Links
    ...    ${SITE}/ok
    ...    ${SITE}/redirect
    ...    ${SITE}/redirect-308
    ...    ${SITE}/confirm?token=abc
    ${results}=    Links In Message Should Be Reachable    ${msg}    timeout=5 s
    Length Should Be    ${results}    4
    Should Be Equal    ${results[1].url}    ${SITE}/ok
    Should Be Equal As Integers    ${results[3].status}    200
    Should Be Equal    ${results[3].url}    ${SITE}/confirmed?token=abc

Broken Links Are Listed With Their Status Or Error
    ${msg}=    Send Mail With Links
    ...    ${SITE}/ok
    ...    ${SITE}/missing
    ...    ${SITE}/error
    ...    ${SITE}/slow?seconds=3
    ...    ${SITE}/loop
    VAR    ${expected}
    ...    4 of 5 links of message #${msg.sequence} are broken:
    ...    \ \ ${SITE}/missing: 404 Not Found
    ...    \ \ ${SITE}/error: 500 Internal Server Error
    ...    \ \ ${SITE}/slow?seconds=3: timed out after 1 s
    ...    \ \ ${SITE}/loop: 302 redirect loop, or more than 10 redirects
    ...    separator=\n
    Run Keyword And Expect Error    EQUALS:${expected}
    ...    Links In Message Should Be Reachable    ${msg}    timeout=1 s
    Run Keyword And Expect Error    Custom message
    ...    Links In Message Should Be Reachable    ${msg}    timeout=1 s    msg=Custom message

Ignored Links Are Not Requested
    ${msg}=    Send Mail With Links
    ...    ${SITE}/ok?ignore-test
    ...    ${SITE}/missing?ignore-test
    ...    ${SITE}/error?ignore-test
    VAR    @{ignore}    /missing    glob:*/error?ignore-test
    ${results}=    Links In Message Should Be Reachable    ${msg}    ignore=${ignore}
    Should Be Equal    ${results[1].skipped}    ignore=/missing
    Should Be Equal    ${results[2].skipped}    ignore=glob:*/error?ignore-test
    ${requests}=    Get Link Site Requests
    Should Contain    ${requests}    /ok?ignore-test
    Should Not Contain    ${requests}    /missing?ignore-test
    Should Not Contain    ${requests}    /error?ignore-test
    Links In Message Should Be Reachable    ${msg}    ignore=regexp:/(missing|error)

Images Are Checked On Request
    ${html}=    Catenate    SEPARATOR=${EMPTY}
    ...    <p><a href="${SITE}/ok">Home</a></p>
    ...    <img src="${SITE}/image.png"><img src="cid:logo@example.com">
    ...    <img src="${SITE}/gone.png">
    ...    <a href="mailto:help@example.com">Mail us</a> <a href="tel:+15550123">Call us</a>
    Send Mail    --to    links@example.com    --subject    Images    --text    See the HTML part.    --html    ${html}
    ${msg}=    Wait Until Message Is Received    recipient=links@example.com
    ${results}=    Links In Message Should Be Reachable    ${msg}
    Length Should Be    ${results}    1
    Run Keyword And Expect Error
    ...    1 of 3 links of message #${msg.sequence} are broken:\n \ ${SITE}/gone.png: 404 Not Found
    ...    Links In Message Should Be Reachable
    ...    ${msg}
    ...    images=True

Open The Confirmation Link
    ${msg}=    Send Mail With Links    ${SITE}/ok    ${SITE}/confirm?token=t-42
    ${response}=    Open Link From Message    ${msg}    matching=/confirm
    Should Be Equal As Integers    ${response.status}    200
    Should Be Equal    ${response.url}    ${SITE}/confirmed?token=t-42
    Should Be Equal    ${response.text}    Thank you, address confirmed (token t-42).
    Should Be Equal    ${response.headers}[content-type]    text/plain; charset=utf-8
    ${first}=    Open Link From Message    ${msg}
    Should Be Equal    ${first.text}    It works.

Open Link Statuses And Failures
    ${msg}=    Send Mail With Links    ${SITE}/missing    ${SITE}/slow?seconds=3
    Run Keyword And Expect Error
    ...    GLOB:Opening ${SITE}/missing answered 404 Not Found, expected a 2xx or 3xx status.\nNo such page.
    ...    Open Link From Message
    ...    ${msg}
    ...    matching=/missing
    ${gone}=    Open Link From Message    ${msg}    matching=/missing    expected_status=404
    Should Be Equal    ${gone.text}    No such page.
    ${any}=    Open Link From Message    ${msg}    matching=glob:*/missing    expected_status=any
    Should Be Equal As Integers    ${any.status}    404
    Run Keyword And Expect Error
    ...    Opening '${SITE}/slow?seconds=3' failed: timed out after 1 s.
    ...    Open Link From Message
    ...    ${msg}
    ...    matching=/slow
    ...    timeout=1 s
    Run Keyword And Expect Error
    ...    No link matches '/reset'. The message's links:\n \ ${SITE}/missing\n \ ${SITE}/slow?seconds=3
    ...    Open Link From Message
    ...    ${msg}
    ...    matching=/reset


*** Keywords ***
Start Servers
    [Documentation]    Starts the mock SMTP server and the link site for the suite.
    Start Server For Suite
    ${site}=    Start Link Site
    VAR    ${SITE}    ${site}    scope=SUITE

Stop Servers
    [Documentation]    Stops what Start Servers started.
    Stop Link Site
    Stop Mock SMTP Server

Send Template
    [Documentation]    Sends a template file as is, and returns the received message.
    [Arguments]    ${name}
    Send Mail    --raw    ${CODES}/${name}    --to    codes@example.com
    ${msg}=    Wait Until Message Is Received    recipient=codes@example.com
    RETURN    ${msg}

Code In Template Should Be
    [Documentation]    Sends the template and checks the code found in the received mail.
    [Arguments]    ${name}    ${expected}
    ${msg}=    Send Template    ${name}
    ${code}=    Get Verification Code From Message    ${msg}
    Should Be Equal    ${code}    ${expected}

Send Mail With Links
    [Documentation]    Sends a mail whose text body has one link a line; returns the message.
    [Arguments]    @{links}
    ${text}=    Catenate    SEPARATOR=\n    Please check these pages:    @{links}
    Send Mail    --to    links@example.com    --subject    Links    --text    ${text}
    ${msg}=    Wait Until Message Is Received    recipient=links@example.com
    RETURN    ${msg}
