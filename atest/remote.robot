*** Settings ***
Documentation     The keywords through Robot Framework's Remote library interface, served by
...               ``smtpmock --remote`` in another process, as when the mock runs on another host.

Library           OperatingSystem
Library           Process
Resource          resources/common.resource

Suite Setup       Start Remote Mock
Suite Teardown    Terminate All Processes

Test Tags         remote


*** Variables ***
# The library imported as Mock. The suite setup replaces it with smtpmock's Remote
# library at the address the process prints. A dry run starts no process: it checks
# the keywords against the library itself, which serves the same ones.
${MOCK_LIBRARY}      SMTPMockLibrary
@{MOCK_ARGUMENTS}    @{EMPTY}


*** Test Cases ***
Messages Cross The Remote Interface As Dictionaries
    Mock.Reset Mock SMTP Server
    Send Mail    --to    alice@example.com    --subject    Over the wire    --text    Hello remote
    ...    port=${SMTP_PORT}
    ${msg}=    Mock.Wait Until Message Is Received    recipient=alice@example.com    timeout=10 s
    Should Be Equal    ${msg.subject}    Over the wire
    Should Be Equal    ${msg.recipients}    ${{ ['alice@example.com'] }}
    Should Be Equal    ${msg.text}    Hello remote\n
    Mock.Received Message Count Should Be    1    recipient=alice@example.com
    Mock.Message Body Should Contain    ${msg}    Hello remote
    ${links}=    Mock.Get Links From Message    ${msg}
    Should Be Empty    ${links}
    Mock.Log Message    ${msg}
    Mock.Log Received Messages

A Message Passed Back Is The Very Message, On Its Server, Also After A Reset
    Mock.Reset Mock SMTP Server
    ${invoice}=    Mock.Deliver Message    Subject: Invoice\n\nYour code is 111111    alice@example.com
    Mock.Start Mock SMTP Server    alias=alerts
    Mock.Deliver Message    Subject: Alert\n\nYour code is 999999    ops@example.com
    ${code}=    Mock.Get Verification Code From Message    ${invoice}
    Should Be Equal    ${code}    111111
    Mock.Stop Mock SMTP Server    alerts
    Mock.Reset Mock SMTP Server
    Mock.Message Body Should Contain    ${invoice}    111111
    Should Be Equal    ${invoice.raw}    ${{ b"Subject: Invoice\r\n\r\nYour code is 111111" }}

A Hostile Line In An E-mail Stays Text In The Caller's Log
    Mock.Reset Mock SMTP Server
    ${msg}=    Mock.Deliver Message
    ...    Subject: No code here\n\nHello\n*HTML* <img src=x onerror=alert(1)>\n*WARN* not a warning
    ...    alice@example.com
    Run Keyword And Expect Error    No verification code*
    ...    Mock.Get Verification Code From Message    ${msg}
    Mock.Log Message    ${msg}

Remote Failures Explain Themselves
    Mock.Reset Mock SMTP Server
    Run Keyword And Expect Error    Expected 1 message (no filter), but received 0.\nThe mailbox is empty.
    ...    Mock.Received Message Count Should Be    1
    Run Keyword And Expect Error    No new message (subject=never) was received in 200 milliseconds.*
    ...    Mock.Wait Until Message Is Received    subject=never    timeout=0.2 s

Fault Rules Set Remotely
    Mock.Reset Mock SMTP Server
    ${rule}=    Mock.Reply To Data    451 4.3.0 Later    times=1
    Should Be Equal    ${rule.reply}    451 4.3.0 Later
    Send Mail Expecting Failure    --to    bob@example.com    port=${SMTP_PORT}
    Send Mail    --to    bob@example.com    port=${SMTP_PORT}
    ${rejected}=    Mock.Get Rejected Commands
    Should Be Equal    ${rejected[0].reply}    451 4.3.0 Later
    Mock.Reply To Data    554 5.6.0 No    times=2
    ${rules}=    Mock.Get Fault Rules
    Should Be Equal As Integers    ${rules[0].times}    2
    Should Be Equal As Integers    ${rules[0].fired}    0

Messages Delivered Remotely To Several Recipients
    Mock.Reset Mock SMTP Server
    ${msg}=    Mock.Deliver Message    Subject: Delivered\n\nOver the wire    alice@example.com    bob@example.com
    ...    sender=carol@example.com
    Should Be Equal    ${msg.subject}    Delivered
    Should Be Equal    ${msg.sender}    carol@example.com
    Should Be Equal    ${msg.recipients}    ${{ ['alice@example.com', 'bob@example.com'] }}
    Mock.Received Message Count Should Be    1    recipient=bob@example.com


*** Keywords ***
Start Remote Mock
    [Documentation]    Starts ``smtpmock --remote`` and imports its keywords as ``Mock``.
    VAR    ${output}    ${TEMPDIR}/smtpmock-remote-${{ __import__('os').getpid() }}.out
    Start Process    python    -m    SMTPMockLibrary    --port    0    --remote    0
    ...    stdout=${output}    stderr=STDOUT
    Wait Until Keyword Succeeds    20 s    0.2 s    File Should Contain Remote Url    ${output}
    ${text}=    Get File    ${output}
    ${smtp}=    Should Match Regexp    ${text}    listening on 127.0.0.1:(\\d+)
    ${url}=    Should Match Regexp    ${text}    Remote library: (http://\\S+)
    VAR    ${SMTP_PORT}    ${smtp}[1]    scope=SUITE
    VAR    ${MOCK_LIBRARY}    Remote    scope=SUITE
    VAR    @{MOCK_ARGUMENTS}    ${url}[1]    scope=SUITE
    Import Library    ${MOCK_LIBRARY}    @{MOCK_ARGUMENTS}    AS    Mock

File Should Contain Remote Url
    [Documentation]    Fails until smtpmock has printed where its Remote library listens.
    [Arguments]    ${path}
    ${text}=    Get File    ${path}
    Should Contain    ${text}    Remote library:
