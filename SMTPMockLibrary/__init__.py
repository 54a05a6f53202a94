"""SMTPMockLibrary: a real SMTP server inside the test run.

``Library    SMTPMockLibrary`` in Robot Framework, or ``MockSMTPServer`` from Python.
"""

from .errors import ConfigurationError, MessageFileNotFoundError, ServerError
from .faults import FaultRule
from .inbox import Inbox
from .library import SMTPMockLibrary
from .linkcheck import LinkResponse, LinkResult
from .mailbox import Mailbox, Rejection
from .message import Attachment, ReceivedMessage
from .server import MockSMTPServer
from .version import __version__

__all__ = [
    "Attachment",
    "ConfigurationError",
    "FaultRule",
    "Inbox",
    "LinkResponse",
    "LinkResult",
    "Mailbox",
    "MessageFileNotFoundError",
    "MockSMTPServer",
    "ReceivedMessage",
    "Rejection",
    "SMTPMockLibrary",
    "ServerError",
    "__version__",
]
