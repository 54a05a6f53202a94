*** Settings ***
Documentation    Starting, stopping and addressing the mock server.

Resource         resources/common.resource

Test Teardown    Stop Mock SMTP Server


*** Test Cases ***
Start Returns A Free Port When Port Is Zero
    ${port}=    Start Mock SMTP Server    port=0
    Should Be True    0 < ${port} < 65536
    ${same}=    Get Mock SMTP Server Port
    Should Be Equal    ${port}    ${same}
    Send Mail    --to    alice@example.com    port=${port}
    Received Message Count Should Be    1

Start Binds The Given Port
    ${free}=    Evaluate    __import__('socket').create_server(('127.0.0.1', 0))
    ${number}=    Evaluate    $free.getsockname()[1]
    Call Method    ${free}    close
    ${port}=    Start Mock SMTP Server    port=${number}
    Should Be Equal As Integers    ${port}    ${number}

Port In Use Fails Clearly
    ${blocker}=    Evaluate    __import__('socket').create_server(('127.0.0.1', 0))
    ${port}=    Evaluate    $blocker.getsockname()[1]
    Run Keyword And Expect Error
    ...    Cannot start the mock SMTP server on 127.0.0.1:${port}: the port is already in use. Stop the other server, or use port=0 for a free port.
    ...    Start Mock SMTP Server
    ...    port=${port}
    [Teardown]    Call Method    ${blocker}    close

Invalid Port Fails Clearly
    Expect Argument Error
    ...    ValueError: Argument 'port' got value 'abc' that cannot be converted to integer or None.
    ...    Start Mock SMTP Server    port=abc
    Run Keyword And Expect Error
    ...    Port must be a number from 0 to 65535 (0 picks a free port), got '70000'.
    ...    Start Mock SMTP Server    port=70000

Unknown TLS Mode Fails Clearly
    Expect Argument Error
    ...    ValueError: Argument 'tls' got value 'ssl' that cannot be converted to 'none', 'starttls' or 'implicit'.
    ...    Start Mock SMTP Server    tls=ssl

Keywords Need A Running Server
    Run Keyword And Expect Error
    ...    The mock SMTP server is not running. Use 'Start Mock SMTP Server' first.
    ...    Get Received Messages

Starting Again Gives A Fresh Server On The Same Port
    ${port}=    Start Mock SMTP Server
    Send Mail    --to    alice@example.com    port=${port}
    ${again}=    Start Mock SMTP Server
    Should Be Equal    ${again}    ${port}
    Received Message Count Should Be    0
    Send Mail    --to    alice@example.com    port=${port}
    Received Message Count Should Be    1

Stop Closes The Port
    ${port}=    Start Mock SMTP Server
    Stop Mock SMTP Server
    ${result}=    Send Mail Expecting Failure    port=${port}
    Should Contain    ${result}    ConnectionRefusedError
    Stop Mock SMTP Server

IPv6 Loopback
    ${port}=    Start Mock SMTP Server    host=::1
    Send Mail    --host    ::1    --to    alice@example.com    port=${port}
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.peer}[0]    ::1

Reset Empties The Mailbox
    Start Server For Suite
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1
    Reset Mock SMTP Server
    Received Message Count Should Be    0

Default Timeout Can Be Changed
    Start Mock SMTP Server
    ${old}=    Set Mock SMTP Timeout    0.2 s
    Should Be Equal    ${old}    5 seconds
    Run Keyword And Expect Error    No new message (no filter) was received in 200 milliseconds.*
    ...    Wait Until Message Is Received
    Set Mock SMTP Timeout    ${old}
