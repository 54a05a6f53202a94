*** Settings ***
Documentation     Reading received mail the way a person reads it.

Library           OperatingSystem
Resource          resources/common.resource

Suite Setup       Start Server For Suite
Suite Teardown    Stop Mock SMTP Server
Test Setup        Reset Mock SMTP Server


*** Variables ***
${RICH}    ${CURDIR}/resources/rich.eml
${OUT}     ${OUTPUT DIR}/messages-suite


*** Test Cases ***
Rich Message Is Fully Readable
    Send Mail
    ...    --raw
    ...    ${RICH}
    ...    --sender
    ...    joerg@example.com
    ...    --to
    ...    zoe@example.com
    ...    --to
    ...    bob@example.com
    ...    --cc
    ...    carol@example.com
    ...    --bcc
    ...    hidden@example.com
    ${msg}=    Wait Until Message Is Received    recipient=zoe@example.com
    Should Be Equal    ${msg.subject}    Ihre Rechnung für März – 日本語
    Should Be Equal    ${msg.sender}    joerg@example.com
    Should Be Equal    ${msg.from_address}    joerg@example.com
    Should Be Equal    ${msg.headers}[From]    Jörg Müller <joerg@example.com>
    Should Be Equal    ${msg.to}    ${{ ['zoe@example.com', 'bob@example.com'] }}
    Should Be Equal    ${msg.cc}    ${{ ['carol@example.com'] }}
    Should Be Equal    ${msg.bcc}    ${{ ['hidden@example.com'] }}
    Should Be Equal    ${msg.reply_to}    ${{ ['support@example.com'] }}
    Should Be Equal    ${msg.message_id}    <rich-1@example.com>
    Should Be Equal    ${msg.date.year}    ${2023}
    Should Be Equal    ${msg.headers.get_all('x-tag')}    ${{ ['first', 'second'] }}
    Should Start With    ${msg.text}    Hallo Zoë,
    Should Contain    ${msg.html}    <b>Zoë</b>
    Should Be Equal    ${msg.size}    ${{ len($msg.raw) }}
    Should Be Equal    ${msg.peer}[0]    127.0.0.1
    Should Be True    $msg.received_at.year >= 2024
    Should Not Contain    ${msg.source}    \r

Links
    Send Mail    --raw    ${RICH}    --to    zoe@example.com
    ${msg}=    Wait Until Message Is Received
    ${links}=    Get Links From Message    ${msg}
    Should Be Equal    ${links}
    ...    ${{ ['https://shop.example.com/invoice?id=1&x=2', 'https://shop.example.com/account'] }}
    ${invoice}=    Get Links From Message    ${msg}    matching=invoice\\?id=
    Should Be Equal    ${invoice}    ${{ ['https://shop.example.com/invoice?id=1&x=2'] }}
    Should Be Equal    ${msg.links}    ${links}

Attachments
    Send Mail    --raw    ${RICH}    --to    zoe@example.com
    ${msg}=    Wait Until Message Is Received
    ${files}=    Get Message Attachments    ${msg}
    ${names}=    Evaluate    [a.filename for a in $files]
    Should Be Equal    ${names}    ${{ ['logo.png', 'report.csv', 'Rechnung-März.pdf'] }}
    Should Be True    $files[0].inline and $files[0].content_id
    ${csv}=    Message Should Have Attachment    ${msg}    report.csv    text/csv
    Should Be Equal    ${csv.content}    ${{ b'name,amount\nAlice,10\nBob,20\n' }}
    ${pdf}=    Message Should Have Attachment    ${msg}    Rechnung-März.pdf    application/pdf
    Should Start With    ${pdf.content}    ${{ b'%PDF' }}
    Should Be Equal    ${pdf.size}    ${{ len($pdf.content) }}
    Run Keyword And Expect Error
    ...    Message #* has no attachment 'report.csv' of type application/pdf. Attachments: logo.png (image/png, 67 bytes), report.csv (text/csv, 28 bytes), Rechnung-März.pdf (application/pdf, 45 bytes).
    ...    Message Should Have Attachment
    ...    ${msg}
    ...    report.csv
    ...    application/pdf
    Run Keyword And Expect Error    No invoice attached
    ...    Message Should Have Attachment    ${msg}    invoice.pdf    msg=No invoice attached
    Received Message Count Should Be    1    attachment=Rechnung-März.pdf

Save Attachments Never Writes Outside The Directory
    Remove Directory    ${OUT}    recursive=True
    Send Mail    --raw    ${CURDIR}/resources/traversal.eml    --to    b@example.com
    ${msg}=    Wait Until Message Is Received
    ${paths}=    Save Message Attachments    ${msg}    ${OUT}/files
    Should Be Equal    ${paths}    ${{ [r'${OUT}/files/evil.sh', r'${OUT}/files/passwd', r'${OUT}/files/evil-2.sh'] }}
    File Should Exist    ${OUT}/files/evil.sh
    File Should Not Exist    ${OUT}/evil.sh
    ${content}=    Get File    ${OUT}/files/evil-2.sh
    Should Be Equal    ${content}    second

Message Header Should Be
    Send Mail    --raw    ${RICH}    --to    zoe@example.com
    ${msg}=    Wait Until Message Is Received
    Message Header Should Be    ${msg}    subject    Ihre Rechnung für März – 日本語
    Message Header Should Be    ${msg}    X-Tag    second
    Run Keyword And Expect Error
    ...    Header 'X-Tag' of message #* should be 'third', but was 'first' | 'second'.
    ...    Message Header Should Be    ${msg}    X-Tag    third
    Run Keyword And Expect Error
    ...    Header 'X-Missing' of message #* should be 'x', but was no such header.
    ...    Message Header Should Be    ${msg}    X-Missing    x
    Run Keyword And Expect Error    Wrong tag
    ...    Message Header Should Be    ${msg}    X-Tag    third    msg=Wrong tag

Message Body Should Contain
    Send Mail    --to    b@example.com    --text    Plain words    --html    <p>Rich <b>words</b></p>
    ${msg}=    Wait Until Message Is Received
    Message Body Should Contain    ${msg}    Plain words
    Message Body Should Contain    ${msg}    <b>words</b>    part=html
    Message Body Should Contain    ${msg}    Plain    part=text
    Run Keyword And Expect Error    The text body of message #* does not contain 'Rich'.*
    ...    Message Body Should Contain    ${msg}    Rich    part=text
    Run Keyword And Expect Error    No rich text
    ...    Message Body Should Contain    ${msg}    Rich    part=text    msg=No rich text
    Expect Argument Error
    ...    ValueError: Argument 'part' got value 'attachment' that cannot be converted to 'any', 'text' or 'html'.
    ...    Message Body Should Contain    ${msg}    x    part=attachment

Save Message As EML Keeps The Exact Bytes
    Send Mail    --raw    ${RICH}    --to    zoe@example.com
    ${msg}=    Wait Until Message Is Received
    ${path}=    Save Message As EML    ${msg}    ${OUT}/rich-copy.eml
    ${saved}=    Get Binary File    ${path}
    Should Be Equal    ${saved}    ${msg.raw}

Save Received Messages
    Remove Directory    ${OUT}/all    recursive=True
    Send Mail    --to    alice@example.com    --subject    One
    Send Mail    --to    bob@example.com    --subject    Two/Three
    ${paths}=    Save Received Messages    ${OUT}/all    recipient=bob@example.com
    Length Should Be    ${paths}    1
    Should Match Regexp    ${paths}[0]    /all/\\d{4}-Two_Three\\.eml$
    ${all}=    Save Received Messages    ${OUT}/all
    Length Should Be    ${all}    2

Log Messages
    Send Mail    --raw    ${RICH}    --to    zoe@example.com
    ${msg}=    Wait Until Message Is Received
    Log Message    ${msg}
    ${logged}=    Log Received Messages    recipient=zoe@example.com
    Length Should Be    ${logged}    1
    ${none}=    Log Received Messages    recipient=nobody@example.com
    Should Be Empty    ${none}

A Message Can Be Given By Its Sequence Number
    Send Mail    --raw    ${RICH}    --to    zoe@example.com
    ${msg}=    Wait Until Message Is Received
    ${links}=    Get Links From Message    ${msg.sequence}
    Length Should Be    ${links}    2
    Run Keyword And Expect Error    *No message #99999 in the mailbox: it holds #*
    ...    Get Links From Message    99999

Malformed Mail Is Stored And Readable
    Send Mail    --raw    ${CURDIR}/resources/malformed.eml    --to    b@example.com
    ${msg}=    Wait Until Message Is Received
    Should Be Equal    ${msg.subject}    broken
    Should Be Equal    ${msg.text.strip()}    visible text
    ${files}=    Get Message Attachments    ${msg}
    Should Be Empty    ${files}
    Run Keyword And Expect Error    Message #* has no attachment 'x.pdf'. Attachments: none.
    ...    Message Should Have Attachment    ${msg}    x.pdf
