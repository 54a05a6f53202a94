"""SMTPMockLibrary: a real SMTP server inside the test run.

``Library    SMTPMockLibrary`` in Robot Framework, or ``MockSMTPServer`` from Python.
"""

from .errors import ConfigurationError, ServerError
from .library import SMTPMockLibrary
from .mailbox import Mailbox, Rejection
from .message import Attachment, ReceivedMessage
from .server import MockSMTPServer
from .version import __version__

__all__ = [
    "Attachment",
    "ConfigurationError",
    "Mailbox",
    "MockSMTPServer",
    "ReceivedMessage",
    "Rejection",
    "SMTPMockLibrary",
    "ServerError",
    "__version__",
]
