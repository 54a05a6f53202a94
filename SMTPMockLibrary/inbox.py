"""Inboxes: named views of one server's mailbox, chosen by routing rules.

A multi-tenant application, or sign-up and billing mail kept apart, without
two servers and without repeating filters in every check. Routing is judged
when an inbox is read, so storing a message still parses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .errors import ConfigurationError
from .filters import MessageFilter, Pattern
from .listing import empty_inbox_listing, listing
from .mailbox import Mailbox
from .message import ReceivedMessage
from .queries import MessageQueries, ViewFilter

UNROUTED = "unrouted"
ROUTING_RULES = {
    "recipient": "any envelope recipient, whole address",
    "sender": "the envelope sender, whole address",
    "auth_user": "the user the client authenticated as",
    "header": "'Name: text' (the header contains the text) or 'Name' (it exists)",
    "tag": "the plus-address tag of a recipient: 'reset' for alice+reset@example.com",
}

Route = Callable[[ReceivedMessage], bool]


def routing_rule(name: str, value: str) -> Route:
    """One rule as a test; the filter vocabulary (``regexp:``, ``glob:``) applies."""
    if name == "tag":
        pattern = Pattern.parse(name, value, plain="exact")
        return lambda m: any(pattern.test(tag) for tag in _tags(m.recipients))
    if name == "auth_user":
        pattern = Pattern.parse(name, value, plain="exact")
        return lambda m: m.auth_user is not None and pattern.test(m.auth_user)
    if name in ("recipient", "sender", "header"):
        return MessageFilter({name: value}).test
    raise ConfigurationError(
        f"Unknown routing rule '{name}'. Allowed: {', '.join(ROUTING_RULES)}."
    )


def _tags(recipients: list[str]) -> list[str]:
    local_parts = (address.rpartition("@")[0] for address in recipients)
    return [local.partition("+")[2] for local in local_parts if "+" in local]


class Inbox(MessageQueries):
    """The messages of one server that the inbox's rules route to it.

    It answers the same queries, waits and checks as the server
    (``get_messages``, ``wait_for_message``, ``assert_message_count``...),
    with a memory of its own of what its waits returned. A message may be
    in several inboxes; the server-wide view always has them all.
    """

    def __init__(self, name: str, mailbox: Mailbox, rules: Mapping[str, str]):
        self.name = name
        self.messages = mailbox
        self.rules = {k: str(v) for k, v in rules.items() if v is not None}
        self._routes = [routing_rule(k, v) for k, v in self.rules.items()]
        self._claimed: set[int] = set()
        self._emptied_through = 0  # sequence numbers up to this were emptied

    def __repr__(self) -> str:
        return f"<Inbox {self.name!r} with {len(self)} message(s)>"

    def __len__(self) -> int:
        return len(self._in_view())

    def routes(self, message: ReceivedMessage) -> bool:
        """Whether every rule of this inbox holds for ``message``."""
        return all(route(message) for route in self._routes)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.rules.items()) or "every message"

    def clear(self) -> None:
        """Empty this inbox: messages stored so far leave its view (only its view)."""
        self._emptied_through = self.messages.last_sequence
        self._claimed.clear()

    def forget_waits(self) -> None:
        self._claimed.clear()

    def _belongs(self, message: ReceivedMessage) -> bool:
        return message.sequence > self._emptied_through and self.routes(message)

    def _where(self, filters: dict[str, str]) -> MessageFilter:
        return ViewFilter(filters, self._belongs, f"inbox={self.name}")

    def _in_view(self) -> list[ReceivedMessage]:
        return [m for m in self.messages.snapshot() if self._belongs(m)]

    def _listing(
        self, wanted: MessageFilter | None = None, counted: bool = False
    ) -> str:
        everything = self.messages.snapshot()
        in_view = [m for m in everything if self._belongs(m)]
        if in_view:
            return listing(in_view, wanted, self._claimed, counted)
        return empty_inbox_listing(self.name, everything)


class UnroutedInbox(Inbox):
    """The messages no other inbox routes: so a suite can assert nothing fell through."""

    def __init__(self, mailbox: Mailbox, inboxes: Mapping[str, Inbox]):
        super().__init__(UNROUTED, mailbox, {})
        self._inboxes = inboxes

    def routes(self, message: ReceivedMessage) -> bool:
        return not any(inbox.routes(message) for inbox in self._inboxes.values())

    def describe(self) -> str:
        return "messages no other inbox routes"


class Inboxes:
    """The inboxes of one server, by name; ``unrouted`` always exists."""

    def __init__(self, mailbox: Mailbox):
        self._mailbox = mailbox
        self._defined: dict[str, Inbox] = {}
        self._unrouted = UnroutedInbox(mailbox, self._defined)

    def create(self, name: str, rules: Mapping[str, str]) -> Inbox:
        if not name or name == UNROUTED:
            raise ConfigurationError(
                f"An inbox needs a name other than '{UNROUTED}', got '{name}'."
            )
        if not rules:
            raise ConfigurationError(
                f"Inbox '{name}' needs at least one routing rule: "
                f"{', '.join(ROUTING_RULES)}."
            )
        inbox = Inbox(name, self._mailbox, rules)
        self._defined[name] = inbox
        return inbox

    def get(self, name: str) -> Inbox:
        inbox = self.find(name)
        if inbox is None:
            raise ConfigurationError(
                f"No inbox called '{name}'. Inboxes: {', '.join(self.names())}."
            )
        return inbox

    def find(self, name: str) -> Inbox | None:
        """The inbox called ``name``, or None when there is none."""
        return self._unrouted if name == UNROUTED else self._defined.get(name)

    def remove(self, name: str) -> None:
        self.get(name)
        if name == UNROUTED:
            raise ConfigurationError(f"The inbox '{UNROUTED}' cannot be removed.")
        del self._defined[name]

    def names(self) -> list[str]:
        return [*self._defined, UNROUTED]

    def counts(self) -> dict[str, int]:
        return {name: len(self.get(name)) for name in self.names()}

    def all(self) -> list[Inbox]:
        return [*self._defined.values(), self._unrouted]

    def clear_definitions(self) -> None:
        self._defined.clear()

    def routed_to(self, message: ReceivedMessage) -> list[str]:
        """The names of the inboxes ``message`` is in."""
        names = [n for n, inbox in self._defined.items() if inbox.routes(message)]
        return names or [UNROUTED]
