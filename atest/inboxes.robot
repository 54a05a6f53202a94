*** Settings ***
Documentation     Several inboxes in one server: a multi-tenant application's mail kept apart.

Resource          resources/common.resource

Suite Setup       Start Server With Inboxes
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Test Cases ***
Each Inbox Sees Only Its Mail
    Send Mail    --to    bob@signup.test    --subject    Welcome Bob
    Send Mail    --to    carol@example.com    --header    X-Tenant: acme    --subject    Acme invoice
    Send Mail    --to    alice+reset@example.com    --subject    Reset your password
    ${msg}=    Wait Until Message Is Received    inbox=signup
    Should Be Equal    ${msg.subject}    Welcome Bob
    ${msg}=    Wait Until Message Is Received    inbox=acme
    Should Be Equal    ${msg.subject}    Acme invoice
    ${msg}=    Wait Until Message Is Received    inbox=resets
    Should Be Equal    ${msg.subject}    Reset your password
    Received Message Count Should Be    3
    Received Message Count Should Be    0    inbox=unrouted

Mail No Rule Routes Falls Into Unrouted
    Send Mail    --to    stranger@example.com    --subject    Lost
    ${msg}=    Wait Until Message Is Received    inbox=unrouted
    Should Be Equal    ${msg.subject}    Lost
    ${inboxes}=    Get Inboxes
    Should Be Equal    ${inboxes}    ${{ {"signup": 0, "acme": 0, "resets": 0, "unrouted": 1} }}

Each Inbox Has Its Own Wait Memory
    Send Mail    --to    bob@signup.test    --subject    Only one
    ${server_wide}=    Wait Until Message Is Received
    ${in_inbox}=    Wait Until Message Is Received    inbox=signup
    Should Be Equal    ${server_wide.sequence}    ${in_inbox.sequence}
    Run Keyword And Expect Error
    ...    No new message (inbox=signup) was received in 100 milliseconds.*returned by an earlier wait
    ...    Wait Until Message Is Received    inbox=signup    timeout=0.1 s

A Failed Wait On An Empty Inbox Lists The Mail The Server Holds
    Send Mail    --to    zed@elsewhere.test    --subject    Misrouted
    Run Keyword And Expect Error
    ...    No new message (inbox=acme) was received in 300 milliseconds.\nThe inbox 'acme' is empty, but the server holds 1 message:\n*from <*> to <zed@elsewhere.test> subject 'Misrouted'
    ...    Wait Until Message Is Received
    ...    inbox=acme
    ...    timeout=0.3 s

Resetting One Inbox Leaves The Others
    Send Mail    --to    bob@signup.test
    Send Mail    --to    stranger@example.com
    Reset Mock SMTP Server    inbox=signup
    Received Message Count Should Be    0    inbox=signup
    Received Message Count Should Be    1    inbox=unrouted
    Received Message Count Should Be    2

Filters Narrow An Inbox
    Send Mail    --to    bob@signup.test    --subject    Welcome
    Send Mail    --to    dave@signup.test    --subject    Reminder
    Received Message Count Should Be    1    inbox=signup    subject=Reminder
    ${messages}=    Get Received Messages    inbox=signup    recipient=dave@signup.test
    Should Be Equal    ${messages[0].subject}    Reminder

An Unknown Inbox Lists The Existing Ones
    Run Keyword And Expect Error
    ...    No inbox called 'sigup'. Inboxes: signup, acme, resets, unrouted.
    ...    Get Received Messages    inbox=sigup

An Inbox Can Be Removed And Defined Again
    Create Inbox    temporary    sender=robot@example.com
    Remove Inbox    temporary
    Run Keyword And Expect Error    No inbox called 'temporary'.*
    ...    Received Message Count Should Be    0    inbox=temporary

Faults Scoped To An Inbox
    Create Inbox    bulk    recipient=glob:*@bulk.example
    Reply To Recipient    .    452 4.2.2 Over quota    inbox=bulk
    ${result}=    Send Mail Expecting Failure    --to    news@bulk.example
    Should Contain    ${result}    452
    Send Mail    --to    alice@example.com
    Received Message Count Should Be    0    inbox=bulk
    Received Message Count Should Be    1
    [Teardown]    Remove Inbox    bulk


*** Keywords ***
Start Server With Inboxes
    [Documentation]    One server, inboxes defined once for the whole suite.
    Start Server For Suite
    Create Inbox    signup    recipient=glob:*@signup.test
    Create Inbox    acme    header=X-Tenant: acme
    Create Inbox    resets    tag=reset
