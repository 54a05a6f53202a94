"""Mail from a real MTA: Postfix relays to the mock, and bounces what it refuses."""

from __future__ import annotations

from real_mta import postfix_relaying_to  # noqa: F401 - a fixture

from SMTPMockLibrary import MockSMTPServer

ORDER = (
    b"From: orders@shop.example\n"
    b"To: nobody@customer.example\n"
    b"Subject: Your order 1042 has shipped\n\n"
    b"It is on its way.\n"
)


def test_a_postfix_bounce_has_the_empty_null_sender(postfix_relaying_to):  # noqa: F811
    with MockSMTPServer() as server:
        server.reply_to_recipient("^nobody@", "550 5.1.1 No such user here")
        postfix = postfix_relaying_to(server.port)
        postfix.sendmail("orders@shop.example", "nobody@customer.example", ORDER)
        bounce = server.wait_for_message(timeout=60, sender="<>")
        assert bounce.sender == ""
        assert server.get_messages(sender="") == [bounce]
        assert bounce.recipients == ["orders@shop.example"]
        assert bounce.subject == "Undelivered Mail Returned to Sender"
        assert bounce.headers["Content-Type"].startswith("multipart/report")
        assert "said: 550 5.1.1 No such\n    user here" in bounce.text  # folded
        [refused] = server.rejected_commands("RCPT")
        assert refused.argument == "TO:<nobody@customer.example>"
        assert server.count_messages() == 1  # the order itself was refused


def test_mail_relayed_by_postfix_arrives_as_sent(postfix_relaying_to):  # noqa: F811
    with MockSMTPServer() as server:
        postfix = postfix_relaying_to(server.port)
        postfix.sendmail("orders@shop.example", "alice@customer.example", ORDER)
        message = server.wait_for_message(
            timeout=60, recipient="alice@customer.example"
        )
        assert message.sender == "orders@shop.example"
        assert message.subject == "Your order 1042 has shipped"
        assert message.helo == "mta.example.test"
        assert "Received: by mta.example.test (Postfix" in message.source
