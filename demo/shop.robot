*** Settings ***
Documentation     The demo: a shop application's mail, checked with SMTPMockLibrary.
...
...               Run it with: robot --outputdir results/demo demo

Library           SMTPMockLibrary
Resource          shop.resource

Suite Setup       Start Mail Server
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Test Cases ***
Sign Up Sends A Welcome Mail With A Confirmation Link
    Sign Up    alice@example.com    smtp_port=${PORT}
    ${msg}=    Wait Until Message Is Received    recipient=alice@example.com
    Should Be Equal    ${msg.subject}    Welcome to Ünicorn Shop – please confirm
    Message Header Should Be    ${msg}    From    Ünicorn Shop <noreply@shop.example.com>
    ${links}=    Get Links From Message    ${msg}    matching=/confirm\\?
    Should Match Regexp    ${links}[0]    ^https://shop.example.com/confirm\\?email=alice@example.com&token=\\S+$
    Log Message    ${msg}

Password Reset Is Sent Asynchronously
    Request Password Reset    alice@example.com    smtp_port=${PORT}
    ${msg}=    Wait Until Message Is Received    recipient=alice@example.com    timeout=10 s
    Should Contain    ${msg.subject}    Reset your password
    Message Body Should Contain    ${msg}    /reset?token\=

Two Resets Give Two Different Links
    Request Password Reset    bob@example.com    smtp_port=${PORT}
    ${first}=    Wait Until Message Is Received    recipient=bob@example.com    timeout=10 s
    Request Password Reset    bob@example.com    smtp_port=${PORT}
    ${second}=    Wait Until Message Is Received    recipient=bob@example.com    timeout=10 s
    Should Not Be Equal    ${first.links}    ${second.links}

Invoice Has Its Attachments
    Order Something    carol@example.com    42.50    smtp_port=${PORT}
    ${msg}=    Wait Until Message Is Received    subject=invoice
    Message Should Have Attachment    ${msg}    order.csv    text/csv
    Message Should Have Attachment    ${msg}    Rechnung-März.pdf    application/pdf
    Save Message Attachments    ${msg}    ${OUTPUT DIR}/invoice

The Shop Retries When The Server Is Busy
    Reply To Data    451 4.3.0 Mailbox busy, try again    times=2
    Order Something    dave@example.com    9.99    smtp_port=${PORT}
    ${msg}=    Wait Until Message Is Received    recipient=dave@example.com
    Should Be Equal    ${msg.subject}    Your invoice for 9.99 EUR
    ${rejected}=    Get Rejected Commands
    Length Should Be    ${rejected}    2
    Received Message Count Should Be    1


*** Keywords ***
Start Mail Server
    [Documentation]    Starts the mock server on a free port, shared by the suite as ${PORT}.
    ${port}=    Start Mock SMTP Server
    VAR    ${PORT}    ${port}    scope=SUITE
