"""The Python face: every keyword capability is a documented method of
MockSMTPServer or ReceivedMessage, and the README's table says which."""

from __future__ import annotations

import pydoc
import re
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import compose, send
from robot.libdoc import LibraryDocumentation

from SMTPMockLibrary import MockSMTPServer
from SMTPMockLibrary.message import ReceivedMessage

README = Path(__file__).resolve().parent.parent / "README.md"
LIBRARY = LibraryDocumentation("SMTPMockLibrary")
_TABLE_ROW = re.compile(r"^\| (.+?) \| (.+) \|$", re.MULTILINE)
_CODE = re.compile(r"`([^`]+)`")
_ATTRIBUTE = re.compile(r"`(server|message)\.(\w+)")


def _normalized(name: str) -> str:
    return name.replace("_", " ").replace(" ", "").lower()


def _readme_table() -> dict[str, str]:
    """Each keyword named in the README's keyword -> Python table, with its
    Python column."""
    rows = {}
    for keywords, python in _TABLE_ROW.findall(README.read_text(encoding="utf-8")):
        for keyword in _CODE.findall(keywords):
            rows[keyword] = python
    return rows


def _help(cls: type) -> str:
    return pydoc.render_doc(cls, renderer=pydoc.plaintext)


def test_the_readme_table_names_every_keyword():
    keywords = {_normalized(kw.name): kw.name for kw in LIBRARY.keywords}
    in_table = {_normalized(name) for name in _readme_table()}
    missing = sorted(name for key, name in keywords.items() if key not in in_table)
    assert not missing, f"Keywords missing from README's Python table: {missing}"
    unknown = sorted(in_table - set(keywords))
    assert not unknown, f"README's Python table names unknown keywords: {unknown}"


def test_what_the_readme_table_names_is_in_help():
    helps = {"server": _help(MockSMTPServer), "message": _help(ReceivedMessage)}
    classes = {"server": MockSMTPServer, "message": ReceivedMessage}
    named = {
        (owner, name)
        for python in _readme_table().values()
        for owner, name in _ATTRIBUTE.findall(python)
    }
    assert ("server", "get_inboxes") in named
    for owner, name in sorted(named):
        assert hasattr(classes[owner], name), f"{owner}.{name} does not exist"
        assert re.search(rf"^ \|  {name}\b", helps[owner], re.MULTILINE), (
            f"{owner}.{name} is not in help()"
        )


def test_get_inboxes_counts_each_inbox_and_unrouted(server):
    assert server.get_inboxes() == {"unrouted": 0}
    server.create_inbox("acme", recipient="glob:*@acme.test")
    send(server.port, recipients=["ann@acme.test"])
    send(server.port, recipients=["zed@signup.test"])
    send(server.port, recipients=["bob@acme.test", "zed@signup.test"])
    assert server.get_inboxes() == {"acme": 2, "unrouted": 1}


def test_a_message_saves_its_bytes_and_its_attachments(server, tmp_path):
    mail = compose(subject="Report")
    mail.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="r.csv")
    mail.add_attachment(
        b"%PDF", maintype="application", subtype="pdf", filename="../../evil.pdf"
    )
    send(server.port, mail)
    message = server.wait_for_message()
    eml = message.save_as_eml(tmp_path / "mail" / "report.eml")
    assert Path(eml).read_bytes() == message.raw
    paths = message.save_attachments(tmp_path / "files")
    assert [Path(p).name for p in paths] == ["r.csv", "evil.pdf"]
    assert [Path(p).parent for p in paths] == [tmp_path / "files"] * 2
    assert Path(paths[0]).read_bytes() == b"a,b\n"


def test_the_server_and_an_inbox_save_the_matching_messages(server, tmp_path):
    server.create_inbox("acme", recipient="glob:*@acme.test")
    send(server.port, compose(subject="Welcome"), recipients=["ann@acme.test"])
    send(server.port, compose(subject="Other"), recipients=["zed@signup.test"])
    send(server.port, EmailMessage(), recipients=["ann@acme.test"])
    paths = server.save_messages(tmp_path / "all", subject="Welcome")
    assert [Path(p).name for p in paths] == ["0001-Welcome.eml"]
    paths = server.inbox("acme").save_messages(tmp_path / "acme")
    assert [Path(p).name for p in paths] == ["0001-Welcome.eml", "0003-message.eml"]
    assert Path(paths[0]).read_bytes() == server.messages[0].raw


def test_rejected_commands_of_data_include_the_rejected_messages(server):
    server.reply_to_data("451 4.3.0 Busy", times=1)
    with pytest.raises(smtplib.SMTPDataError):
        send(server.port)
    server.disconnect_on("DATA", times=1)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(server.port)
    server.reply_to_recipient("bob", "550 5.1.1 No such user", times=1)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server.port, recipients=["bob@example.com"])
    assert [str(r) for r in server.rejected_commands("DATA")] == [
        "END OF DATA -> 451 4.3.0 Busy",
        "DATA -> (connection dropped)",
    ]
    assert [str(r) for r in server.rejected_commands("end of data")] == [
        "END OF DATA -> 451 4.3.0 Busy"
    ]
    assert [r.command for r in server.rejected_commands("RCPT TO")] == ["RCPT"]


@pytest.mark.parametrize(
    "path", ["missing.eml", "mail/missing.txt", "MISSING.EML", "./missing"]
)
def test_deliver_a_path_that_names_no_file_fails_naming_it(
    server, tmp_path, monkeypatch, path
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as failure:
        server.deliver(path, "alice@example.com")
    assert str(failure.value).startswith(f"Message file '{path}' does not exist.")
    assert failure.value.filename == path
    assert len(server.messages) == 0


def test_deliver_a_missing_path_object_fails_naming_it(server, tmp_path):
    path = tmp_path / "missing.eml"
    with pytest.raises(FileNotFoundError, match="does not exist") as failure:
        server.deliver(path, "alice@example.com")
    assert str(failure.value) == f"Message file '{path}' does not exist."


def test_deliver_reads_an_existing_file_and_keeps_one_line_messages(server, tmp_path):
    eml = tmp_path / "welcome.eml"
    eml.write_bytes(b"Subject: from a file\r\n\r\nHi\r\n")
    assert server.deliver(str(eml), "alice@example.com").subject == "from a file"
    one_liners = ["Subject: hi", "Subject: see /tmp/report.eml", "hello"]
    for text in one_liners:
        assert server.deliver(text, "alice@example.com").raw == text.encode()
