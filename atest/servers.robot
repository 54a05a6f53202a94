*** Settings ***
Documentation    Several servers at once: an application that sends through two relays.

Resource         resources/common.resource

Test Teardown    Stop All Mock SMTP Servers


*** Test Cases ***
Two Servers Keep Two Applications' Mail Apart
    ${billing}=    Start Mock SMTP Server    alias=billing
    ${alerts}=    Start Mock SMTP Server    alias=alerts
    Send Mail    --to    finance@example.com    --subject    Invoice 7    port=${billing}
    Send Mail    --to    ops@example.com    --subject    Disk full    port=${alerts}
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.subject}    Disk full
    Received Message Count Should Be    1
    ${previous}=    Switch Mock SMTP Server    billing
    Should Be Equal    ${previous}    alerts
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.subject}    Invoice 7
    Received Message Count Should Be    0    recipient=ops@example.com

Servers Without Alias Are Called By Number
    ${first}=    Start Mock SMTP Server
    Start Mock SMTP Server    alias=second
    ${previous}=    Switch Mock SMTP Server    1
    Should Be Equal    ${previous}    second
    ${port}=    Get Mock SMTP Server Port
    Should Be Equal    ${port}    ${first}

Stopping The Current Server Falls Back To The One Started Before
    ${first}=    Start Mock SMTP Server    alias=first
    Start Mock SMTP Server    alias=second
    Stop Mock SMTP Server
    ${port}=    Get Mock SMTP Server Port
    Should Be Equal    ${port}    ${first}

Stopping A Server By Alias
    ${first}=    Start Mock SMTP Server    alias=first
    ${second}=    Start Mock SMTP Server    alias=second
    Stop Mock SMTP Server    first
    ${port}=    Get Mock SMTP Server Port
    Should Be Equal    ${port}    ${second}
    ${result}=    Send Mail Expecting Failure    port=${first}
    Should Contain    ${result}    ConnectionRefusedError

A Teardown Stopping A Server Whose Start Failed Does Not Fail Again
    ${port}=    Start Mock SMTP Server    alias=blocker
    Run Keyword And Expect Error    *already in use*
    ...    Start Mock SMTP Server    port=${port}    alias=relay2
    Stop Mock SMTP Server    relay2
    ${current}=    Get Mock SMTP Server Port
    Should Be Equal    ${current}    ${port}

Switching To An Unknown Alias Lists The Running Servers
    ${port}=    Start Mock SMTP Server    alias=billing
    Run Keyword And Expect Error
    ...    No mock SMTP server called 'biling'. Running: 'billing' on port ${port} (current).
    ...    Switch Mock SMTP Server    biling

Starting An Alias Again Replaces It On The Same Port
    ${port}=    Start Mock SMTP Server    alias=billing
    Send Mail    --to    finance@example.com    port=${port}
    ${again}=    Start Mock SMTP Server    alias=billing
    Should Be Equal    ${again}    ${port}
    Received Message Count Should Be    0

A Failed Start Leaves The Running Server On Its Port With Its Mail
    ${port}=    Start Mock SMTP Server
    Send Mail    --to    before@example.com    port=${port}
    Run Keyword And Expect Error
    ...    Port must be a number from 0 to 65535 (0 picks a free port), got '99999'.
    ...    Start Mock SMTP Server    port=99999
    ${blocker}=    Evaluate    __import__('socket').create_server(('127.0.0.1', 0))
    ${taken}=    Evaluate    $blocker.getsockname()[1]
    Run Keyword And Expect Error
    ...    Cannot start the mock SMTP server on 127.0.0.1:${taken}: the port is already in use.*
    ...    Start Mock SMTP Server    port=${taken}
    Call Method    ${blocker}    close
    ${current}=    Get Mock SMTP Server Port
    Should Be Equal    ${current}    ${port}
    Send Mail    --to    after@example.com    port=${port}
    Received Message Count Should Be    2
    Received Message Count Should Be    1    recipient=before@example.com

A Start Failing To Take Over The Port Gives It Back To The Replaced Server
    ${port}=    Start Mock SMTP Server
    Send Mail    --to    before@example.com    port=${port}
    Run Keyword And Expect Error    TLS certificate or key file '${CURDIR}${/}missing.pem' does not exist.
    ...    Start Mock SMTP Server    tls=starttls    certfile=${CURDIR}${/}missing.pem
    ${current}=    Get Mock SMTP Server Port
    Should Be Equal    ${current}    ${port}
    Send Mail    --to    after@example.com    port=${port}
    Received Message Count Should Be    2
    Received Message Count Should Be    1    recipient=before@example.com

A Misspelt Option Is Named In The Error
    Expect Argument Error
    ...    ValueError: Argument 'port' got value 'aliass\=x' that cannot be converted to integer or None.
    ...    Start Mock SMTP Server    aliass\=x

Keywords Need A Running Server After All Stopped
    Start Mock SMTP Server
    Stop All Mock SMTP Servers
    Run Keyword And Expect Error
    ...    The mock SMTP server is not running. Use 'Start Mock SMTP Server' first.
    ...    Get Mock SMTP Server Port
