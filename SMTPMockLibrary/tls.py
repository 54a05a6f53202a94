"""TLS contexts for the server: a throw-away certificate authority, or the user's files."""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from typing import Literal, get_args

from .errors import ConfigurationError

TLSMode = Literal["none", "starttls", "implicit"]
TLS_MODES: tuple[str, ...] = get_args(TLSMode)


def validate_tls_mode(mode: str | None) -> str:
    normalized = (mode or "none").strip().lower()
    if normalized in ("", "no", "off", "false"):
        normalized = "none"
    if normalized not in TLS_MODES:
        raise ConfigurationError(
            f"Unknown TLS mode '{mode}'. Allowed: {', '.join(TLS_MODES)}."
        )
    return normalized


@dataclass
class ServerTLS:
    """The server side of TLS, and where a client finds the authority to trust."""

    context: ssl.SSLContext
    ca_file: str | None
    _directory: tempfile.TemporaryDirectory | None = None

    def cleanup(self) -> None:
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None


def server_tls(
    host: str, certfile: str | None = None, keyfile: str | None = None
) -> ServerTLS:
    """A server context from the user's certificate, or from a fresh throw-away CA.

    The generated certificate is valid for ``localhost``, ``127.0.0.1``, ``::1``
    and ``host``; its authority is written to a PEM file a client can verify with.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if certfile:
        for path in (certfile, keyfile):
            if path and not os.path.isfile(path):
                raise ConfigurationError(
                    f"TLS certificate or key file '{path}' does not exist."
                )
        try:
            context.load_cert_chain(certfile, keyfile)
        except ssl.SSLError as error:
            raise ConfigurationError(
                f"Cannot load TLS certificate '{certfile}' with key '{keyfile}': {error}."
            ) from None
        return ServerTLS(context, ca_file=None)

    import trustme  # imported here: only servers with TLS pay for it

    authority = trustme.CA(organization_name="SMTPMockLibrary throw-away CA")
    names = ["localhost", "127.0.0.1", "::1"]
    if host and host not in names and not _is_wildcard(host):
        names.append(host)
    authority.issue_cert(*names).configure_cert(context)
    directory = tempfile.TemporaryDirectory(prefix="smtpmock-ca-", dir=_public_root())
    # A certificate is public, and a mail server running as its own user
    # (Exim runs as Debian-exim) must be able to read it. The private keys
    # never touch the disk: trustme hands them to the context in memory.
    os.chmod(directory.name, 0o755)
    ca_file = os.path.join(directory.name, "ca.pem")
    authority.cert_pem.write_to_path(ca_file)
    os.chmod(ca_file, 0o644)
    return ServerTLS(context, ca_file=ca_file, _directory=directory)


def _public_root() -> str:
    """A temporary directory that every user can reach: ``TMPDIR`` when it is,
    else the system's own."""
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(candidate) and _reachable_by_everyone(candidate):
            return candidate
    return tempfile.gettempdir()


def _reachable_by_everyone(path: str) -> bool:
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
