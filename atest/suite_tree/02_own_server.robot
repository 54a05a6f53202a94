*** Settings ***
Documentation     A child suite that starts its own server gets its own, and the
...               parent's back when its own stops.

Resource          ../resources/common.resource

Suite Setup       Start Own Server
Suite Teardown    Stop Mock SMTP Server


*** Test Cases ***
Own Server Is Current And Separate
    ${port}=    Get Mock SMTP Server Port
    Should Not Be Equal    ${port}    ${PARENT_PORT}
    Send Mail    --to    carol@example.com    port=${port}
    Wait Until Message Is Received    recipient=carol@example.com
    Switch Mock SMTP Server    tree
    Received Message Count Should Be    0    recipient=carol@example.com
    [Teardown]    Switch Mock SMTP Server    own

Stopping Own Server Gives The Parent's Back
    ${port}=    Start Mock SMTP Server    alias=temporary
    Should Not Be Equal    ${port}    ${PARENT_PORT}
    Stop Mock SMTP Server
    ${current}=    Get Mock SMTP Server Port
    Should Be Equal    ${current}    ${OWN_PORT}
    Stop Mock SMTP Server
    ${current}=    Get Mock SMTP Server Port
    Should Be Equal    ${current}    ${PARENT_PORT}
    [Teardown]    Start Own Server


*** Keywords ***
Start Own Server
    [Documentation]    Remembers the parent's port, then starts this suite's own server.
    ${parent}=    Get Mock SMTP Server Port
    VAR    ${PARENT_PORT}    ${parent}    scope=SUITE
    ${own}=    Start Mock SMTP Server    alias=own
    VAR    ${OWN_PORT}    ${own}    scope=SUITE
