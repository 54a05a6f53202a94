*** Settings ***
Documentation    Applications that fetch mail, and IMAP/POP3 clients, read the mock's mailbox:
...              a helpdesk worker in its own process, Robot's ImapLibrary2, and curl's pop3://.

Library          OperatingSystem
Library          ImapLibrary2
Resource         resources/common.resource

Test Setup       Start Server For Suite    users=support@example.com:s3cret
Test Teardown    Stop Mock SMTP Server


*** Variables ***
${WORKER}     ${CURDIR}/resources/fetch_worker.py
${CONFIRM}    ${CURDIR}/resources/fetch_confirm.eml


*** Test Cases ***
Helpdesk Worker Sent Mail By SMTP Fetches It Over IMAP With STARTTLS
    ${imap}=    Start Mock IMAP Server    tls=starttls
    ${ca}=    Get Mock SMTP Server CA File
    Send Mail    --to    support@example.com    --sender    customer@example.com
    ...    --subject    Printer on fire    --text    It smokes since Monday.
    ${result}=    Run Process    python    ${WORKER}    ${imap}    support@example.com    s3cret
    ...    --cafile    ${ca}    stderr=STDOUT    timeout=60 s
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}
    Should Be Equal    ${result.stdout}
    ...    TICKET customer@example.com | Printer on fire | It smokes since Monday.
    ${msg}=    Wait Until Message Is Received    subject=Printer on fire
    ${flags}=    Get Message Flags    ${msg}    user=support@example.com
    Should Be Equal    ${flags}    ${{ ["\\Deleted", "\\Seen", "expunged"] }}
    Received Message Count Should Be    1    # the worker's delete hides it from the worker only

Worker Finds Nothing Twice
    ${imap}=    Start Mock IMAP Server
    Send Mail    --to    support@example.com    --subject    Once
    ${first}=    Run Process    python    ${WORKER}    ${imap}    support@example.com    s3cret
    Should Contain    ${first.stdout}    | Once |
    ${second}=    Run Process    python    ${WORKER}    ${imap}    support@example.com    s3cret
    Should Be Equal As Integers    ${second.rc}    0
    Should Be Empty    ${second.stdout}

ImapLibrary2 Waits For Mail, Reads Links, Marks Read And Deletes
    ${imap}=    Start Mock IMAP Server
    ${msg}=    Deliver Message    ${CONFIRM}    alice@example.com    sender=shop@example.com
    Open Mailbox    host=127.0.0.1    port=${imap}    user=alice@example.com    password=any
    ...    is_secure=False
    ${index}=    Wait For Email    sender=shop@example.com    timeout=10    poll_frequency=0.1
    ${links}=    Get Links From Email    ${index}
    Should Be Equal    ${links}    ${{ ["https://shop.example.com/confirm?token=abc123"] }}
    Mark All Emails As Read
    ${flags}=    Get Message Flags    ${msg}    user=alice@example.com
    Should Contain    ${flags}    \\Seen
    Delete All Emails
    ${count}=    Get Email Count
    Should Be Equal As Integers    ${count}    0
    Close Mailbox
    ${flags}=    Get Message Flags    ${msg}    user=alice@example.com
    Should Contain    ${flags}    expunged
    Received Message Count Should Be    1

ImapLibrary2 Sees New Mail Sent During The Session
    ${imap}=    Start Mock IMAP Server
    Open Mailbox    host=127.0.0.1    port=${imap}    user=bob@example.com    password=any
    ...    is_secure=False
    Start Process Sending Mail    --to    bob@example.com    --subject    Late news    --delay    0.3
    ${index}=    Wait For Email    subject=Late news    timeout=10    poll_frequency=0.1
    Should Not Be Empty    ${index}
    Close Mailbox

Catch All Login Sees Every Recipient's Mail
    ${imap}=    Start Mock IMAP Server
    Send Mail    --to    alice@example.com    --bcc    bob@example.com    --subject    One
    Send Mail    --to    carol@example.com    --subject    Two
    Open Mailbox    host=127.0.0.1    port=${imap}    user="*"    password=any    is_secure=False
    ${count}=    Get Email Count    status=ALL
    Should Be Equal As Integers    ${count}    2
    Close Mailbox

Wrong Password Is Refused Over IMAP
    ${imap}=    Start Mock IMAP Server
    Run Keyword And Expect Error    *AUTHENTICATIONFAILED*
    ...    Open Mailbox    host=127.0.0.1    port=${imap}    user=support@example.com
    ...    password=wrong    is_secure=False

Delivered Message Is Fetched And Deleted Over POP3 With Curl
    ${pop3}=    Start Mock POP3 Server
    ${msg}=    Deliver Message    ${CONFIRM}    support@example.com
    ${fetched}=    Run Process    curl    -sS    --user    support@example.com:s3cret
    ...    pop3://127.0.0.1:${pop3}/1    stdout=${OUTPUT DIR}/fetched.eml
    Should Be Equal As Integers    ${fetched.rc}    0    ${fetched.stderr}
    ${expected}=    Get Binary File    ${CONFIRM}
    ${actual}=    Get Binary File    ${OUTPUT DIR}/fetched.eml
    Should Be Equal    ${actual}    ${expected}
    ${deleted}=    Run Process    curl    -sS    --user    support@example.com:s3cret
    ...    -X    DELE    -I    pop3://127.0.0.1:${pop3}/1
    Should Be Equal As Integers    ${deleted.rc}    0    ${deleted.stderr}
    ${flags}=    Get Message Flags    ${msg}
    Should Be Equal    ${flags}    ${{ ["\\Deleted", "\\Seen", "pop3-deleted"] }}
    Wait Until Message Is Received    subject=Confirm your address

Deliver Message Takes Text And Is Seen By The Query Keywords
    ${source}=    Catenate    SEPARATOR=\n    Subject: Written by the suite    ${EMPTY}    Hello
    ${msg}=    Deliver Message    ${source}    alice@example.com    bob@example.com
    ...    sender=customer@example.com
    Should Be Equal    ${msg.sender}    customer@example.com
    Should Be Equal    ${msg.raw}    ${{ b"Subject: Written by the suite\r\n\r\nHello" }}
    ${found}=    Wait Until Message Is Received    recipient=bob@example.com
    Should Be Equal    ${found.subject}    Written by the suite

POP3 Over Implicit TLS Verifies Against The Server's CA
    ${pop3}=    Start Mock POP3 Server    tls=implicit
    ${ca}=    Get Mock SMTP Server CA File
    Deliver Message    ${CONFIRM}    alice@example.com
    ${listing}=    Run Process    curl    -sS    --cacert    ${ca}    --user    alice@example.com:x
    ...    pop3s://127.0.0.1:${pop3}
    Should Be Equal As Integers    ${listing.rc}    0    ${listing.stderr}
    Should Start With    ${listing.stdout}    1${SPACE}

Get Message Flags Names The Recipients When The User Is Wrong
    ${msg}=    Deliver Message    ${CONFIRM}    alice@example.com
    Run Keyword And Expect Error
    ...    'bob@example.com' is not a recipient of message #1 (recipients: alice@example.com).
    ...    Get Message Flags    ${msg}    user=bob@example.com
    ${two}=    Deliver Message    ${CONFIRM}    alice@example.com    carol@example.com
    Run Keyword And Expect Error    Message #2 has several recipients*
    ...    Get Message Flags    ${two}

Read-back Services Need A Running Server
    Stop Mock SMTP Server
    Run Keyword And Expect Error    The mock SMTP server is not running.*
    ...    Start Mock IMAP Server
    Run Keyword And Expect Error    The mock SMTP server is not running.*
    ...    Start Mock POP3 Server
    [Teardown]    NONE
