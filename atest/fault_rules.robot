*** Settings ***
Documentation     Faults by who and how fast, as real providers fail, seen by a sender that
...               retries with backoff in another process.

Library           Collections
Resource          resources/common.resource

Suite Setup       Start Server For Suite    users=alice:s3cret
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Variables ***
${RETRYING_SENDER}    ${CURDIR}/resources/retrying_sender.py


*** Test Cases ***
A Retried Message Is Stored Exactly Once After The Fault Lifts
    Reply To Data    451 4.3.0 Try again later    times=2
    ${result}=    Run Process    python    ${RETRYING_SENDER}    ${PORT}    --to    alice@example.com
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}
    Should Contain    ${result.stdout}    attempt 3: accepted
    Received Message Count Should Be    1
    ${rules}=    Get Fault Rules
    Should Be Empty    ${rules}

A Condition Picks The Mail That Fails
    Reply To Data    451 4.3.0 Later    recipient=bob@example.com
    ${result}=    Send Mail Expecting Failure    --to    bob@example.com
    Should Contain    ${result}    451
    Send Mail    --to    alice@example.com
    ${rules}=    Get Fault Rules
    Should Be Equal As Integers    ${rules[0].fired}    1
    Received Message Count Should Be    1

A Header Condition Is Judged At The End Of Data
    Reply To Data    554 5.6.0 No campaigns    header=X-Campaign: spring
    ${result}=    Send Mail Expecting Failure    --to    bob@example.com    --header    X-Campaign: spring
    Should Contain    ${result}    554
    Send Mail    --to    bob@example.com    --header    X-Campaign: autumn
    Received Message Count Should Be    1

Authentication Fails For The Chosen User Even With The Right Password
    Reply To Auth    535 5.7.8 Authentication credentials invalid    user=alice
    ${result}=    Send Mail Expecting Failure    --to    bob@example.com    --user    alice    --password    s3cret
    Should Contain    ${result}    535

A Rate Limit Refuses Mail Beyond The Count
    Limit Message Rate    2    per=1 min    by=sender
    Send Mail    --to    bob@example.com
    Send Mail    --to    bob@example.com
    ${result}=    Send Mail Expecting Failure    --to    bob@example.com
    Should Contain    ${result}    421
    Send Mail    --to    bob@example.com    --sender    other@example.com
    Received Message Count Should Be    3

A Retrying Sender Gets Past A Rate Limit
    Limit Message Rate    1    per=1 s    by=sender
    Send Mail    --to    bob@example.com
    ${result}=    Run Process    python    ${RETRYING_SENDER}    ${PORT}    --to    bob@example.com
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}
    Should Contain    ${result.stdout}    attempt 1: 421
    Received Message Count Should Be    2

Too Many Recipients Get 452
    Limit Recipients    2
    ${result}=    Send Mail    --to    a@example.com    --to    b@example.com    --to    c@example.com
    Should Contain    ${result}    refused recipients: {'c@example.com': (452
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.recipients}    ${{ ["a@example.com", "b@example.com"] }}

Limits And Throttles Lift After Times Firings
    Limit Message Rate    1    per=1 min    times=1
    Limit Recipients    1    times=1
    Throttle Data    1 MB/s    times=1
    ${rules}=    Get Fault Rules
    Should Be Equal    ${{ [rule.times for rule in $rules] }}    ${{ [1, 1, 1] }}
    Send Mail    --to    a@example.com
    ${result}=    Send Mail Expecting Failure    --to    a@example.com
    Should Contain    ${result}    421
    ${result}=    Send Mail    --to    a@example.com    --to    b@example.com    --to    c@example.com
    Should Contain    ${result}    refused recipients: {'b@example.com': (452
    ${rules}=    Get Fault Rules
    Should Be Empty    ${rules}
    ${msg}=    Wait Until Message Is Received    recipient=c@example.com
    Should Be Equal    ${msg.recipients}    ${{ ["a@example.com", "c@example.com"] }}

Seeded Random Faults Repeat
    ${first}=    Outcomes Of Ten Messages    seed=42
    ${again}=    Outcomes Of Ten Messages    seed=42
    Should Be Equal    ${first}    ${again}

Every Rule Is Logged And Listed
    Reply To Sender    @spam\\.example$    550 5.7.1 No spam
    Throttle Data    1 MB/s
    ${rules}=    Get Fault Rules
    Length Should Be    ${rules}    2
    Should Be Equal    ${rules[1].action}    throttle
    Clear Faults
    ${rules}=    Get Fault Rules
    Should Be Empty    ${rules}


*** Keywords ***
Outcomes Of Ten Messages
    [Documentation]    Sends ten messages through a seeded 50 % fault; returns which got through.
    [Arguments]    ${seed}
    Reset Mock SMTP Server
    Reply To Data    451 4.3.0 Random    probability=0.5    seed=${seed}
    VAR    @{outcomes}    @{EMPTY}
    FOR    ${number}    IN RANGE    10
        ${result}=    Run Process    python    ${SENDMAIL}    ${PORT}    --to    r${number}@example.com
        Append To List    ${outcomes}    ${result.rc}
    END
    RETURN    ${outcomes}
