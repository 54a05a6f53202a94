"""The keywords, one component a topic, assembled into ``SMTPMockLibrary``.

A keyword's code is in the module named after its topic: ``server`` (start,
stop, switch), ``mailbox`` (queries, counts, waits), ``messages`` (one
message's content), ``faults`` (fault injection, rejections, transcript),
``inboxes`` (named views by routing rules), ``evidence`` (cards in
log.html) and ``services`` (IMAP, POP3, HTTP).
"""

from .evidence import EvidenceKeywords
from .faults import FaultKeywords
from .inboxes import InboxKeywords
from .mailbox import MailboxKeywords
from .messages import MessageKeywords
from .server import ServerKeywords
from .services import ServiceKeywords

COMPONENTS = (
    ServerKeywords,
    MailboxKeywords,
    InboxKeywords,
    MessageKeywords,
    FaultKeywords,
    EvidenceKeywords,
    ServiceKeywords,
)

__all__ = ["COMPONENTS"]
