*** Settings ***
Documentation     Sharp edges real mail servers and real suites meet: bounces from an MTA,
...               negative checks over time, the failure vocabulary, passwords as secrets.

Resource          resources/common.resource
Library           OperatingSystem

Suite Setup       Start Server For Suite
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Test Cases ***
A Bounce Has The Empty Null Sender
    [Documentation]    A delivery status notification as Postfix writes it, sent by swaks
    ...    with the null reverse-path MAIL FROM:<>, as an MTA sends a bounce.
    ${result}=    Run Process    swaks    --server    127.0.0.1    --port    ${PORT}
    ...    --from    <>    --to    orders@shop.example    --data    @${CURDIR}/resources/postfix-bounce.eml
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}
    ${msg}=    Wait Until Message Is Received    sender=<>
    Should Be Empty    ${msg.sender}
    Should Be Equal    ${msg.subject}    Undelivered Mail Returned to Sender
    Received Message Count Should Be    1    sender=${EMPTY}
    Received Message Count Should Be    1    sender=<>
    Received Message Count Should Be    0    sender=app@example.com

Message Should Not Be Received Passes When Nothing Comes
    Send Mail    --to    alice@example.com    --subject    Welcome
    Message Should Not Be Received    within=0.3 s    subject=Newsletter    recipient=alice@example.com

Message Should Not Be Received Fails At Once On A Message Already There
    Send Mail    --to    bob@example.com    --subject    Newsletter
    Run Keyword And Expect Error
    ...    Expected no message (subject=Newsletter, recipient=bob@example.com) within 1 minute, but 1 message matched:*Newsletter*
    ...    Message Should Not Be Received
    ...    within=1 min
    ...    subject=Newsletter
    ...    recipient=bob@example.com

Message Should Not Be Received Fails As Soon As One Arrives
    Start Process Sending Mail    --delay    0.3    --to    bob@example.com    --subject    Newsletter
    ${started}=    Get Time    epoch
    Run Keyword And Expect Error    Expected no message (subject=Newsletter)*
    ...    Message Should Not Be Received    within=30 s    subject=Newsletter
    ${waited}=    Evaluate    time.time() - ${started}
    Should Be True    ${waited} < 15

A Failed Wait Marks Mail An Earlier Wait Returned
    Send Mail    --to    alice@example.com    --subject    First reset
    Wait Until Message Is Received    recipient=alice@example.com
    Run Keyword And Expect Error
    ...    *subject 'First reset'${SPACE}${SPACE}<- matches, but was returned by an earlier wait
    ...    Wait Until Message Is Received    recipient=alice@example.com    timeout=0.1 s

The Old Error Argument Still Works With A Warning
    Run Keyword And Expect Error    Nothing for Alice
    ...    Wait Until Message Is Received    recipient=alice@example.com    timeout=0.1 s    error=Nothing for Alice

A Negative Timeout Is Shown As Written
    Run Keyword And Expect Error    'timeout' must not be negative, got '-1.5 minutes'.
    ...    Wait Until Message Is Received    timeout=-1.5 minutes
    Run Keyword And Expect Error    'within' must not be negative, got '-2.5 s'.
    ...    Message Should Not Be Received    within=-2.5 s

A Negative Default Timeout Fails At Once
    Run Keyword And Expect Error    'timeout' must not be negative, got '-4 s'.
    ...    Set Mock SMTP Timeout    -4 s
    ${default}=    Set Mock SMTP Timeout    1 s
    Set Mock SMTP Timeout    ${default}
    Should Not Start With    ${default}    -

A Misspelt Filter Prefix Is An Error
    Run Keyword And Expect Error
    ...    Unknown prefix 'rgx:' in subject=rgx:^Hello. Did you mean 'regexp:'?*
    ...    Get Received Messages    subject=rgx:^Hello
    ${messages}=    Get Received Messages    subject=Re: Hello
    Should Be Empty    ${messages}

Fault Rules Are Logged And Last Until Cleared
    Reply To Data    451 4.3.0 Try again later
    ${result}=    Send Mail Expecting Failure    --to    alice@example.com
    Should Contain    ${result}    451
    ${result}=    Send Mail Expecting Failure    --to    alice@example.com
    Should Contain    ${result}    451
    Clear Faults
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1

Passwords Can Be Secrets
    VAR    ${password: Secret}    %{SMTPMOCK_TEST_PASSWORD=s3cret}
    ${port}=    Start Mock SMTP Server    alias=secret    auth_required=True
    Add Mock SMTP User    alice    ${password}
    Send Mail    --to    bob@example.com    --user    alice    --password    s3cret    port=${port}
    Received Message Count Should Be    1
    [Teardown]    Stop Mock SMTP Server    secret

A Message Number Is Looked Up When The Keyword Runs
    [Documentation]    Works under robot --dryrun too: converting the number needs no server.
    ${port}=    Start Mock SMTP Server    alias=numbers
    Send Mail    --to    alice@example.com    --text    See https://shop.example/welcome    port=${port}
    Wait Until Message Is Received
    ${links}=    Get Links From Message    1
    Should Be Equal    ${links}    ${{["https://shop.example/welcome"]}}
    Run Keyword And Expect Error
    ...    No message #99 in the mailbox: it holds #1 to #1. A reset empties it; a message kept in a variable stays readable.
    ...    Get Links From Message
    ...    99
    Reset Mock SMTP Server
    Run Keyword And Expect Error    No message #1 in the mailbox: it is empty.*    Get Links From Message    1
    [Teardown]    Stop Mock SMTP Server    numbers
