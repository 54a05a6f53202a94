*** Settings ***
Documentation    TLS, AUTH, SMTPUTF8 and size limits, driven by smtplib, curl and swaks.

Library          OperatingSystem
Library          resources/helpers_tls.py
Resource         resources/common.resource

Test Teardown    Stop Mock SMTP Server


*** Variables ***
${CURL_MAIL}    ${CURDIR}/resources/curl-mail.txt


*** Test Cases ***
STARTTLS Verifies Against The Generated CA With Curl
    ${port}=    Start Mock SMTP Server    tls=starttls
    ${ca}=    Get Mock SMTP Server CA File
    File Should Exist    ${ca}
    Send With Curl    smtp://localhost:${port}    ${ca}
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.subject}    via curl
    Should Be True    ${msg.tls}
    Should Start With    ${msg.tls_version}    TLSv1

Implicit TLS Verifies Against The Generated CA With Curl
    ${port}=    Start Mock SMTP Server    tls=implicit
    ${ca}=    Get Mock SMTP Server CA File
    Send With Curl    smtps://localhost:${port}    ${ca}
    ${msg}=    Wait Until Message Is Received
    Should Be True    ${msg.tls}

Curl Refuses A Server It Cannot Verify
    ${port}=    Start Mock SMTP Server    tls=starttls
    ${result}=    Run Process    curl    -sS    --ssl-reqd    smtp://localhost:${port}
    ...    --mail-from    a@example.com    --mail-rcpt    b@example.com    -T    ${CURL_MAIL}
    Should Be Equal As Integers    ${result.rc}    60    # certificate problem: the CA is not trusted
    Received Message Count Should Be    0
    # curl may exit before the server has read its alert: wait for the server.
    Wait Until Keyword Succeeds    5 s    0.05 s
    ...    Rejection Should Be    STARTTLS    (TLS handshake failed: tlsv1 alert unknown ca)
    ${transcript}=    Get SMTP Transcript
    Should Contain    ${transcript}[-1]    TLS handshake failed: tlsv1 alert unknown ca

Plain Session Records No TLS
    ${port}=    Start Mock SMTP Server
    Send Mail    --to    b@example.com    port=${port}
    ${msg}=    Wait Until Message Is Received
    Should Not Be True    ${msg.tls}
    Should Be Equal    ${msg.tls_version}    ${None}
    Run Keyword And Expect Error
    ...    The mock SMTP server has no generated CA file: it serves no protocol with TLS.
    ...    Get Mock SMTP Server CA File

Require TLS Refuses Mail Before STARTTLS
    ${port}=    Start Mock SMTP Server    tls=starttls    require_tls=True
    ${output}=    Send Mail Expecting Failure    --to    b@example.com    port=${port}
    Should Contain    ${output}    530
    ${ca}=    Get Mock SMTP Server CA File
    Send Mail    --to    b@example.com    --tls    starttls    --cafile    ${ca}    port=${port}
    Received Message Count Should Be    1

Own Certificate Files
    ${files}=    Write Certificate    ${OUTPUT DIR}/own-cert
    ${port}=    Start Mock SMTP Server    tls=implicit    certfile=${files}[0]    keyfile=${files}[1]
    Send Mail    --to    b@example.com    --tls    implicit    --cafile    ${files}[2]    port=${port}
    Received Message Count Should Be    1
    Run Keyword And Expect Error
    ...    The mock SMTP server has no generated CA file: it uses the certificate given with certfile.
    ...    Get Mock SMTP Server CA File

AUTH Accepts The Right Password And Records The User
    ${port}=    Start Mock SMTP Server    tls=starttls    auth_required=True    users=alice:s3cret
    ${ca}=    Get Mock SMTP Server CA File
    Send Mail    --to    b@example.com    --tls    starttls    --cafile    ${ca}
    ...    --user    alice    --password    s3cret    port=${port}
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.auth_user}    alice

AUTH Refuses A Wrong Password With 535
    ${port}=    Start Mock SMTP Server    tls=starttls    auth_required=True    users=alice:s3cret
    ${ca}=    Get Mock SMTP Server CA File
    ${output}=    Send Mail Expecting Failure    --to    b@example.com    --tls    starttls    --cafile    ${ca}
    ...    --user    alice    --password    wrong    port=${port}
    Should Contain    ${output}    535
    ${rejected}=    Get Rejected Commands    AUTH
    Should Start With    ${rejected[0].reply}    535
    Received Message Count Should Be    0

AUTH Required Refuses Mail Without Login
    ${port}=    Start Mock SMTP Server    auth_required=True    users=alice:s3cret
    ${output}=    Send Mail Expecting Failure    --to    b@example.com    port=${port}
    Should Contain    ${output}    530
    Should Contain    ${output}    Authentication required

AUTH Without TLS When The Setup Needs It
    ${port}=    Start Mock SMTP Server    auth_required=True
    Add Mock SMTP User    bob    pa55 word
    Send Mail    --to    b@example.com    --user    bob    --password    pa55 word    port=${port}
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.auth_user}    bob

AUTH Is Refused Before TLS By Default When TLS Is On
    ${port}=    Start Mock SMTP Server    tls=starttls    users=alice:s3cret
    ${output}=    Send Mail Expecting Failure    --to    b@example.com    --user    alice    --password    s3cret
    ...    port=${port}
    Should Contain    ${output}    SMTP AUTH extension not supported

Passwords Never Appear In The Transcript Or Log
    ${port}=    Start Mock SMTP Server    auth_required=True    users=alice:VerySecret123
    Send Mail    --to    b@example.com    --user    alice    --password    VerySecret123    port=${port}
    Log SMTP Transcript
    ${lines}=    Get SMTP Transcript
    ${transcript}=    Catenate    SEPARATOR=\n    @{lines}
    Should Contain    ${transcript}    AUTH PLAIN ********
    Should Not Contain    ${transcript}    VerySecret123
    ${encoded}=    Evaluate    __import__('base64').b64encode(b'\\0alice\\0VerySecret123').decode()
    Should Not Contain    ${transcript}    ${encoded}

Swaks Sends Over STARTTLS With AUTH
    ${port}=    Start Mock SMTP Server    tls=starttls    auth_required=True    users=alice:s3cret
    ${ca}=    Get Mock SMTP Server CA File
    ${result}=    Run Process    swaks    --server    127.0.0.1    --port    ${port}
    ...    --to    swaks@example.com    --from    a@example.com    -tls    --tls-verify    --tls-ca-path    ${ca}
    ...    --tls-sni    localhost    --auth    LOGIN    --auth-user    alice    --auth-password    s3cret
    ...    stderr=STDOUT    timeout=60 s
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}
    ${msg}=    Wait Until Message Is Received    recipient=swaks@example.com
    Should Be Equal    ${msg.auth_user}    alice
    Should Be True    ${msg.tls}

UTF-8 Addresses Round-Trip
    ${port}=    Start Mock SMTP Server
    Send Mail    --smtputf8    --sender    jörg@bücher.example    --to    用户@例子.广告    --header-to    用户@例子.广告
    ...    port=${port}
    ${msg}=    Wait Until Message Is Received    recipient=用户@例子.广告
    Should Be Equal    ${msg.sender}    jörg@bücher.example
    Should Be Equal    ${msg.recipients}    ${{ ['用户@例子.广告'] }}
    Should Contain    ${msg.mail_options}    SMTPUTF8
    Received Message Count Should Be    1    sender=jörg@bücher.example

Oversized Mail Gets 552
    ${port}=    Start Mock SMTP Server    max_message_size=2000
    ${big}=    Evaluate    'x' * 3000
    ${output}=    Send Mail Expecting Failure    --to    b@example.com    --text    ${big}    port=${port}
    Should Contain    ${output}    552
    Send Mail    --to    b@example.com    --text    small    port=${port}
    Received Message Count Should Be    1

Size Is Advertised In EHLO
    ${port}=    Start Mock SMTP Server    max_message_size=12345
    ${result}=    Run Process    swaks    --server    127.0.0.1    --port    ${port}    --to    b@example.com
    ...    --quit-after    EHLO    stderr=STDOUT    timeout=60 s
    Should Contain    ${result.stdout}    250-SIZE 12345
    Should Contain    ${result.stdout}    250-8BITMIME
    Should Contain    ${result.stdout}    250-SMTPUTF8


*** Keywords ***
Send With Curl
    [Documentation]    Sends a file with curl, requiring TLS and verifying with ``${ca}``.
    [Arguments]    ${url}    ${ca}
    ${result}=    Run Process    curl    -sS    --ssl-reqd    --cacert    ${ca}    ${url}
    ...    --mail-from    app@example.com    --mail-rcpt    b@example.com    -T    ${CURL_MAIL}
    ...    stderr=STDOUT    timeout=60 s
    Should Be Equal As Integers    ${result.rc}    0    curl failed: ${result.stdout}

Rejection Should Be
    [Documentation]    Fails unless the server refused ``command`` with ``reply``.
    [Arguments]    ${command}    ${reply}
    ${rejected}=    Get Rejected Commands    ${command}
    Should Not Be Empty    ${rejected}
    Should Be Equal    ${rejected[0].reply}    ${reply}
