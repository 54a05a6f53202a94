*** Settings ***
Documentation     Deterministic fault injection, set from the test, seen by a real client.

Resource          resources/common.resource

Suite Setup       Start Server For Suite
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Test Cases ***
Reply To Recipient Rejects Only Matching Recipients
    Reply To Recipient    ^nobody@    550 5.1.1 No such user here
    ${output}=    Send Mail    --to    nobody@example.com    --to    alice@example.com
    Should Contain    ${output}    refused recipients: {'nobody@example.com': (550, b'5.1.1 No such user here')}
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.recipients}    ${{ ['alice@example.com'] }}
    ${rejected}=    Get Rejected Commands    RCPT
    Length Should Be    ${rejected}    1
    Should Be Equal    ${rejected[0].reply}    550 5.1.1 No such user here
    Should Be Equal    ${rejected[0].argument}    TO:<nobody@example.com>

Reply To Recipient A Number Of Times
    Reply To Recipient    alice    450 4.2.1 Mailbox busy    times=1
    Send Mail Expecting Failure    --to    alice@example.com
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1

Reply To Sender
    Reply To Sender    @blocked\\.example$    550 5.7.1 Sender rejected
    ${output}=    Send Mail Expecting Failure    --sender    x@blocked.example    --to    alice@example.com
    Should Contain    ${output}    SMTPSenderRefused: (550, b'5.7.1 Sender rejected'
    Send Mail    --sender    x@fine.example    --to    alice@example.com
    Received Message Count Should Be    1

Reply To Data The Chosen Number Of Times
    ${rule}=    Reply To Data    451 4.3.0 Try again later    times=2
    FOR    ${attempt}    IN RANGE    1    3
        ${output}=    Send Mail Expecting Failure    --to    alice@example.com
        Should Contain    ${output}    SMTPDataError: (451, b'4.3.0 Try again later')    msg=Attempt ${attempt}
    END
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1
    Should Be Equal As Integers    ${rule.fired}    2
    ${active}=    Get Fault Rules
    Should Be Empty    ${active}
    ${rejected}=    Get Rejected Commands    end of data
    Length Should Be    ${rejected}    2

Disconnect On A Command
    Disconnect On    RCPT    times=1
    ${output}=    Send Mail Expecting Failure    --to    alice@example.com
    Should Contain    ${output}    SMTPServerDisconnected
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1
    ${rejected}=    Get Rejected Commands
    Should Be Equal    ${rejected[0].reply}    (connection dropped)

Disconnect At The End Of Data Stores Nothing
    Disconnect On    end of data    times=2
    Send Mail Expecting Failure    --to    alice@example.com
    Send Mail Expecting Failure    --to    alice@example.com
    Received Message Count Should Be    0
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1

Delay Reply Makes A Client Time Out
    Delay Reply    DATA    2 s    times=1
    ${output}=    Send Mail Expecting Failure    --to    alice@example.com    --timeout    0.5
    Should Contain    ${output}    timed out
    Send Mail    --to    alice@example.com    --timeout    5
    Wait Until Message Is Received

Clear Faults Restores Normal Service
    Reply To Data    554 5.6.0 Rejected    times=${None}
    Disconnect On    MAIL    times=${None}
    Send Mail Expecting Failure    --to    alice@example.com
    Clear Faults
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1

Reset Clears Faults So They Never Leak
    Reply To Data    554 5.6.0 Rejected    times=${None}
    Reset Mock SMTP Server
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    1

Bad Fault Arguments Say What Is Allowed
    Run Keyword And Expect Error
    ...    Invalid SMTP reply 'nope': expected a three-digit code from 200 to 599 and an optional text on one line, like '550 5.1.1 No such user'.
    ...    Reply To Data
    ...    nope
    Expect Argument Error
    ...    ValueError: Argument 'command' got value 'HELLO' that cannot be converted to 'EHLO', 'HELO', 'AUTH', 'STARTTLS', 'MAIL', 'RCPT', 'DATA', 'END OF DATA', 'RSET', 'NOOP', 'VRFY' or 'QUIT'.
    ...    Disconnect On
    ...    HELLO
    Run Keyword And Expect Error    'times' must be a positive number or None, got -1.
    ...    Reply To Data    451 Later    times=-1
    Run Keyword And Expect Error    Invalid regular expression '[' in the address pattern: *
    ...    Reply To Recipient    [    550 No
    Run Keyword And Expect Error    'delay' must not be negative, got '-2 s'.
    ...    Delay Reply    DATA    -2 s
    Run Keyword And Expect Error    'per' must not be negative, got '-1 minute'.
    ...    Limit Message Rate    3    per=-1 minute

Transcript Shows The Conversation
    Reply To Recipient    nobody    550 5.1.1 No such user here
    Send Mail    --to    nobody@example.com    --to    alice@example.com
    ${lines}=    Get SMTP Transcript
    ${transcript}=    Catenate    SEPARATOR=\n    @{lines}
    Should Match Regexp    ${transcript}    >> RCPT TO:<nobody@example.com>\n.*<< 550 5.1.1 No such user here
    Should Contain    ${transcript}    << 221 Bye
    Log SMTP Transcript    lines=50
