*** Settings ***
Documentation    A child suite sees the server its parent started.

Resource         ../resources/common.resource

Test Setup       Reset Mock SMTP Server


*** Test Cases ***
Child Suite Waits On The Parent's Server
    ${port}=    Get Mock SMTP Server Port
    Send Mail    --to    alice@example.com    --subject    From the tree    port=${port}
    ${msg}=    Wait Until Message Is Received    recipient=alice@example.com
    Should Be Equal    ${msg.subject}    From the tree

Child Suite Counts On The Parent's Server
    ${port}=    Get Mock SMTP Server Port
    Send Mail    --to    bob@example.com    port=${port}
    Send Mail    --to    bob@example.com    port=${port}
    Wait Until Received Message Count Is    2    recipient=bob@example.com
