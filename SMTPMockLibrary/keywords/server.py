"""Keywords that start, stop, switch and configure mock SMTP servers."""

from __future__ import annotations

from datetime import timedelta

from robot.api import logger
from robot.utils import secs_to_timestr
from robotlibcore import keyword

from ..errors import ServerError
from ..server import DEFAULT_MAX_MESSAGE_SIZE, MockSMTPServer
from ..tls import TLSMode
from .base import LibraryComponent, Secret, not_negative, plain
from .registry import RunningServer


class ServerKeywords(LibraryComponent):
    @keyword("Start Mock SMTP Server")
    def start_mock_smtp_server(
        self,
        port: int | None = None,
        *,
        host: str | None = None,
        alias: str | None = None,
        tls: TLSMode = "none",
        require_tls: bool = False,
        certfile: str | None = None,
        keyfile: str | None = None,
        auth_required: bool = False,
        users: dict[str, str] | str | Secret | None = None,
        auth_require_tls: bool | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> int:
        """Starts a mock SMTP server, makes it the current one, and returns its port.

        ``port`` and ``host`` default to the values given when importing the
        library (``0``, a free port, and ``127.0.0.1``). A port already in use
        fails with a clear error. Every option but ``port`` is given by name,
        so a misspelt option fails instead of being taken for a host name.

        The server belongs to the suite that started it: it is stopped when
        that suite ends, if the suite did not stop it. Started in
        ``__init__.robot``, it serves every suite below. See `Suite trees and
        several servers`.

        - ``alias``: a name for `Switch Mock SMTP Server`. Servers started
          without one are called ``1``, ``2``... in the order started; the
          numbering starts again when no server is running.
        - ``tls``: ``none``, ``starttls`` (plain connection upgraded by the
          ``STARTTLS`` command) or ``implicit`` (TLS from the first byte, as on
          port 465). See `TLS and AUTH`.
        - ``require_tls``: with ``starttls``, refuse ``MAIL`` before ``STARTTLS``.
        - ``certfile``, ``keyfile``: your own certificate instead of a generated one.
        - ``auth_required``: refuse mail before a successful ``AUTH``.
        - ``users``: ``alice:s3cret,bob:pw``, a dictionary, or a ``Secret``
          holding either (Robot Framework 7.4 and newer).
        - ``auth_require_tls``: refuse ``AUTH`` on unencrypted sessions; by
          default true when TLS is on, false otherwise.
        - ``max_message_size``: the largest message in bytes, advertised as
          ``SIZE`` in ``EHLO``; larger messages get ``552``. ``0``: no limit.

        *Starting again.* When the current server has the same alias and was
        started by the same suite (for example the second test of a suite that
        starts a server in every test), it is stopped and the new, empty
        server takes its place *on the same port*, unless another ``port`` is
        given: the application keeps its configuration. A server started by
        another suite is never replaced: the new one runs beside it. A start
        that fails (a wrong option, a port in use) leaves the running server
        as it was, on its port, with its mail.

        | ${port} =    Start Mock SMTP Server
        | ${port} =    Start Mock SMTP Server    2525
        | ${port} =    Start Mock SMTP Server    tls=starttls    auth_required=True    users=alice:s3cret
        | ${port} =    Start Mock SMTP Server    alias=relay2
        """
        library = self.library
        registry = library.registry
        replaced = registry.replaceable(alias, library.current_suite)
        if alias is not None and registry.find(alias) not in (None, replaced):
            raise ServerError(
                f"A mock SMTP server called '{alias}' is already running, started "
                "by another suite. Stop it first, or give another alias."
            )
        requested = library.port if port is None else port
        if replaced is not None and requested == 0:
            requested = replaced.server.port
        # Built stopped: invalid options fail before the running server is touched.
        server = MockSMTPServer(
            library.host if host is None else host,
            requested,
            tls=tls,
            require_tls=require_tls,
            certfile=certfile,
            keyfile=keyfile,
            auth_required=auth_required,
            users=plain(users),
            auth_require_tls=auth_require_tls,
            max_message_size=max_message_size,
            autostart=False,
        )
        if replaced is None:
            server.start()
        elif server.port != replaced.server.port:
            server.start()  # a failure here leaves the replaced server running
            library.stop(replaced)
        else:
            self._take_over_port(replaced, server)
        running = registry.add(server, alias, library.current_suite)
        logger.info(
            f"Mock SMTP server '{running.alias}' listening on {server.address} "
            f"(TLS: {tls})."
        )
        return server.port

    def _take_over_port(self, replaced: RunningServer, server: MockSMTPServer) -> None:
        """Start ``server`` on the port ``replaced`` frees. If it fails to start,
        ``replaced`` serves that port again, with its messages, and the error
        is raised: the application keeps a server, whatever the new one did."""
        old, port = replaced.server, replaced.server.port
        old.stop()
        try:
            server.start()
        except BaseException:
            try:
                old.start(port=port)
            except Exception:
                self.library.stop(replaced)  # the port was taken meanwhile
            raise
        self.library.stop(replaced)  # reports its thread's errors, unregisters it

    @keyword("Stop Mock SMTP Server")
    def stop_mock_smtp_server(self, alias: str | None = None) -> None:
        """Stops the current server (or the one called ``alias``).

        Closes its port and every open session. The server started before it
        becomes the current one again. Does nothing when no server is running,
        or none called ``alias`` (it logs which ones run): a teardown does not
        fail again when the start failed. The messages received so far stay
        readable from the message objects a suite already holds.

        | ${port} =    Start Mock SMTP Server    alias=relay2
        | Stop Mock SMTP Server    relay2
        | [Teardown]    Stop Mock SMTP Server
        """
        registry = self.library.registry
        running = registry.current if alias is None else registry.find(str(alias))
        if running is None and alias is not None:
            logger.info(
                f"No mock SMTP server called '{alias}' to stop. "
                f"Running: {registry.describe()}."
            )
        if running is not None:
            self.library.stop(running)

    @keyword("Stop All Mock SMTP Servers")
    def stop_all_mock_smtp_servers(self) -> None:
        """Stops every running mock SMTP server, whichever suite started it.

        | Suite Teardown    Stop All Mock SMTP Servers
        """
        for running in reversed(self.library.registry.all):
            self.library.stop(running)

    @keyword("Switch Mock SMTP Server")
    def switch_mock_smtp_server(self, alias: str) -> str:
        """Makes the server called ``alias`` the current one; returns the previous alias.

        Every other keyword acts on the current server. Servers started
        without an alias are called by their number: ``1``, ``2``...

        | ${port1} =    Start Mock SMTP Server    alias=relay1
        | ${port2} =    Start Mock SMTP Server    alias=relay2
        | ${previous} =    Switch Mock SMTP Server    relay1
        | Should Be Equal    ${previous}    relay2
        """
        registry = self.library.registry
        previous = registry.current
        registry.switch(alias)
        return previous.alias if previous is not None else ""

    @keyword("Get Mock SMTP Server Port")
    def get_mock_smtp_server_port(self) -> int:
        """Returns the port the current server bound.

        With ``port=0``, this is how a suite that did not start the server
        (a child of ``__init__.robot``) learns the port to give the application.

        | ${port} =    Get Mock SMTP Server Port
        """
        return self.server.port

    @keyword("Get Mock SMTP Server CA File")
    def get_mock_smtp_server_ca_file(self) -> str:
        """Returns the PEM file of the authority that signed the server certificate.

        Give it to the application so that it verifies the server instead of
        turning verification off. The file is readable by every user of the
        machine (a certificate is public), so a mail server running as its
        own user can use it. One authority signs the certificates of every
        protocol the server serves (SMTP, IMAP, POP3). Fails when no protocol
        of the server uses TLS, or SMTP uses a certificate given with
        ``certfile``.

        | ${port} =    Start Mock SMTP Server    tls=starttls
        | ${ca} =    Get Mock SMTP Server CA File
        | File Should Exist    ${ca}
        """
        server = self.server
        if server.ca_file is None:
            reason = (
                "serves no protocol with TLS"
                if server.tls == "none"
                else "uses the certificate given with certfile"
            )
            raise ServerError(
                f"The mock SMTP server has no generated CA file: it {reason}."
            )
        return server.ca_file

    @keyword("Add Mock SMTP User")
    def add_mock_smtp_user(self, user: str, password: str | Secret) -> None:
        """Adds a user that can log in with AUTH, or changes its password.

        The password is never logged; it may be a ``Secret`` (Robot Framework
        7.4 and newer).

        | Add Mock SMTP User    alice    s3cret
        """
        self.server.add_user(user, plain(password))
        logger.info(f"Added SMTP user '{user}'.")

    @keyword("Reset Mock SMTP Server")
    def reset_mock_smtp_server(self, inbox: str | None = None) -> None:
        """Empties the mailbox and clears fault rules, rejections and the transcript.

        Use it in ``Test Setup`` so that each test starts from an empty mailbox.
        Inboxes stay defined (define them once, in ``Suite Setup``) and forget
        what their waits returned. With ``inbox``, only that inbox is emptied:
        its messages leave its view, the rest of the server is untouched.

        | Test Setup    Reset Mock SMTP Server
        | Create Inbox    signup    recipient=glob:*@signup.test
        | Reset Mock SMTP Server    inbox=signup
        """
        self.server.reset(inbox)

    @keyword("Reset Mock Server")
    def reset_mock_server(self) -> None:
        """*DEPRECATED* Use Reset Mock SMTP Server instead.

        | Reset Mock Server
        """
        self.server.reset()

    @keyword("Set Mock SMTP Timeout")
    def set_mock_smtp_timeout(self, timeout: timedelta) -> str:
        """Sets the default timeout of the waits and returns the old one.

        | ${old} =    Set Mock SMTP Timeout    30 s
        | Set Mock SMTP Timeout    ${old}
        """
        seconds = not_negative(timeout)
        old = secs_to_timestr(self.library.timeout)
        self.library.timeout = seconds
        return old
