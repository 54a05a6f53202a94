*** Settings ***
Documentation     Counting, finding and waiting for mail sent by another process.

Resource          resources/common.resource

Suite Setup       Start Server For Suite
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Test Cases ***
Count Messages
    Received Message Count Should Be    0
    Send Mail    --to    alice@example.com    --to    bob@example.com
    Send Mail    --to    bob@example.com    --sender    billing@example.com
    Received Message Count Should Be    2
    Received Message Count Should Be    2    recipient=bob@example.com
    Received Message Count Should Be    1    sender=billing@example.com
    ${count}=    Get Received Message Count    recipient=alice@example.com
    Should Be Equal As Integers    ${count}    1

Count Failure Lists What Was Received
    Send Mail    --to    alice@example.com    --subject    Welcome
    Run Keyword And Expect Error
    ...    Expected 2 messages (recipient=alice@example.com), but received 1.\nReceived 1 message:\n \ #* from <app@example.com> to <alice@example.com> subject 'Welcome' \ <- matches
    ...    Received Message Count Should Be
    ...    2
    ...    recipient=alice@example.com
    Run Keyword And Expect Error    Custom message
    ...    Received Message Count Should Be    5    msg=Custom message

Negative Count Is An Argument Error
    Run Keyword And Expect Error    Count must be zero or more, got -1.
    ...    Received Message Count Should Be    -1

Get Received Messages Returns Usable Objects
    Send Mail    --to    alice@example.com    --subject    First    --text    Hello Alice
    Send Mail    --to    bob@example.com    --subject    Second    --html    <p>Hi Bob</p>
    ${messages}=    Get Received Messages
    Length Should Be    ${messages}    2
    Should Be Equal    ${messages[0].subject}    First
    Should Be Equal    ${messages[0].sender}    app@example.com
    Should Be Equal    ${messages[0].recipients}    ${{ ['alice@example.com'] }}
    Should Be Equal    ${messages[0].text}    Hello Alice\n
    Should Be Equal    ${messages[1].html}    <p>Hi Bob</p>\n
    Should Be Equal    ${messages[1].headers}[subject]    Second
    Should Start With    ${messages[0].raw}    ${{ b'From: app@example.com' }}
    ${to_bob}=    Get Received Messages    recipient=bob@example.com
    Should Be Equal    ${to_bob[0].subject}    Second

Every Filter Works
    Send Mail    --to    alice@example.com    --cc    carol@example.com    --bcc    secret@example.com
    ...    --subject    Invoice 42    --text    Total: 10 EUR    --header    X-Campaign: spring
    ...    --header-from    Shop <shop@example.com>    --attach    ${CURDIR}/resources/sendmail.py
    Send Mail    --to    bob@example.com    --subject    Newsletter
    Received Message Count Should Be    1    sender=app@example.com    subject=Invoice
    Received Message Count Should Be    1    recipient=secret@example.com
    Received Message Count Should Be    2    recipient=glob:*@example.com
    Received Message Count Should Be    1    to=alice@example.com
    Received Message Count Should Be    1    cc=carol@example.com
    Received Message Count Should Be    1    from_address=shop@example.com
    Received Message Count Should Be    1    subject=regexp:^Invoice \\d+$
    Received Message Count Should Be    1    body=Total: 10 EUR
    Received Message Count Should Be    1    header=X-Campaign: spring
    Received Message Count Should Be    1    header=X-Campaign
    Received Message Count Should Be    1    attachment=sendmail.py
    Received Message Count Should Be    1    matching=Total: \\d+ EUR

Unknown Filter Is An Argument Error
    Run Keyword And Expect Error
    ...    Unknown filter 'recipients'. Allowed filters: sender, recipient, to, cc, from_address, subject, body, header, attachment, matching.
    ...    Get Received Messages
    ...    recipients=alice@example.com

Invalid Regular Expression Is An Argument Error
    Run Keyword And Expect Error
    ...    Invalid regular expression '(' in matching=: missing ), unterminated subpattern at position 0.
    ...    Message Matching Should Have Been Received    (

Message Matching Should Have Been Received
    Send Mail    --to    alice@example.com    --text    Your code is 123456
    ${msg}=    Message Matching Should Have Been Received    code is \\d{6}
    Should Be Equal    ${msg.recipients}[0]    alice@example.com
    Message Matching Should Have Been Received    (?i)YOUR CODE    recipient=alice@example.com
    Run Keyword And Expect Error    No received message matches (recipient=bob@example.com, matching=code).*
    ...    Message Matching Should Have Been Received    code    recipient=bob@example.com

Message Matching Should Not Have Been Received
    Send Mail    --to    alice@example.com    --text    Password: hunter2
    Message Matching Should Not Have Been Received    credit card
    Run Keyword And Expect Error
    ...    Expected no message (matching=Password: \\S+), but 1 message matched:*
    ...    Message Matching Should Not Have Been Received    Password: \\S+

Wait For Mail Sent Asynchronously
    ${handle}=    Start Process Sending Mail    --delay    0.5    --to    late@example.com
    ${msg}=    Wait Until Message Is Received    recipient=late@example.com    timeout=10 s
    Should Be Equal    ${msg.recipients}[0]    late@example.com
    ${result}=    Wait For Process    ${handle}    timeout=30 s
    Should Be Equal As Integers    ${result.rc}    0

Second Wait Does Not Return The First Mail
    Send Mail    --to    alice@example.com    --subject    First reset
    ${first}=    Wait Until Message Is Received    recipient=alice@example.com
    Start Process Sending Mail    --delay    0.3    --to    alice@example.com    --subject    Second reset
    ${second}=    Wait Until Message Is Received    recipient=alice@example.com    timeout=10 s
    Should Be Equal    ${first.subject}    First reset
    Should Be Equal    ${second.subject}    Second reset

Wait Times Out With What Was Received
    Send Mail    --to    bob@example.com    --subject    Not for Alice
    Run Keyword And Expect Error
    ...    No new message (recipient=alice@example.com) was received in 300 milliseconds.\nReceived 1 message:\n \ #* from <app@example.com> to <bob@example.com> subject 'Not for Alice'
    ...    Wait Until Message Is Received
    ...    recipient=alice@example.com
    ...    timeout=0.3 s
    Run Keyword And Expect Error    Alice got nothing
    ...    Wait Until Message Is Received    recipient=alice@example.com    timeout=0.1 s    msg=Alice got nothing

Wait Until Received Message Count Is
    ${handle}=    Start Process Sending Mail    --delay    0.3    --to    ops@example.com    --count    3
    ${messages}=    Wait Until Received Message Count Is    3    recipient=ops@example.com    timeout=10 s
    Length Should Be    ${messages}    3
    Wait For Process    ${handle}    timeout=30 s
    Run Keyword And Expect Error
    ...    Expected 4 messages (recipient=ops@example.com) within 200 milliseconds, but received 3.*
    ...    Wait Until Received Message Count Is    4    recipient=ops@example.com    timeout=0.2 s
