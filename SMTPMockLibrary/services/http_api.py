"""Mailpit's API v1 handlers over a server's mailbox (see http.py for the service).

Each handler answers what Mailpit answers for the same request, in the same
JSON shape; a request it cannot serve gets a status and ``{"Error": "..."}``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from ..linkcheck import check_links
from ..version import __version__
from .http_events import Events
from .http_faults import Chaos, FaultRequestError, add_fault, rules_json
from .http_mailpit import (
    MailStore,
    MessageView,
    clean_tags,
    data_url,
    headers_json,
    message_json,
    stats_json,
    summary_json,
)
from .http_requests import (
    APIError,
    json_body,
    json_object,
    ok,
    paging,
    parse_search,
    query_test,
)
from .http_search import SearchError, Test
from .http_send import SendError, build_message

if TYPE_CHECKING:
    from ..server import MockSMTPServer

# The HTML body of a message, shown alone: nothing runs, nothing is fetched
# (images only from data: URLs, remote ones only when asked for).
VIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:{remote}; "
    "font-src data:; sandbox; frame-ancestors 'self'"
)


class MailpitAPI:
    """The routes of Mailpit's API v1, ``/view/`` and ``/api/events``."""

    def __init__(self, server: MockSMTPServer):
        self.server = server
        self.store = MailStore(server.messages, server.inboxes)
        self.chaos = Chaos(server.faults)
        self.events = Events()
        self.started = time.monotonic()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/messages", self.list_messages),
            web.put("/api/v1/messages", self.set_read_status),
            web.delete("/api/v1/messages", self.delete_messages),
            web.get("/api/v1/search", self.search),
            web.delete("/api/v1/search", self.delete_search),
            web.post("/api/v1/send", self.send),
            web.get("/api/v1/tags", self.get_tags),
            web.put("/api/v1/tags", self.set_tags),
            web.put("/api/v1/tags/{tag}", self.rename_tag),
            web.delete("/api/v1/tags/{tag}", self.delete_tag),
            web.get("/api/v1/message/{id}", self.get_message),
            web.get("/api/v1/message/{id}/headers", self.get_headers),
            web.get("/api/v1/message/{id}/raw", self.get_raw),
            web.get("/api/v1/message/{id}/part/{part}", self.get_part),
            web.get("/api/v1/message/{id}/link-check", self.link_check),
            web.get("/api/v1/info", self.info),
            web.get("/api/v1/webui", self.webui),
            web.get("/api/v1/chaos", self.get_chaos),
            web.put("/api/v1/chaos", self.set_chaos),
            web.get("/view/{id}.html", self.view_html),
            web.get("/view/{id}.txt", self.view_text),
            web.get("/view/{id}.raw", self.get_raw),
            web.get("/api/events", self.events.handle),
            web.get("/livez", self.alive),
            web.get("/readyz", self.alive),
            # Extensions beyond Mailpit.
            web.get(
                "/api/smtpmock/message/{id}/verification-code", self.verification_code
            ),
            web.get("/api/smtpmock/inboxes", self.get_inboxes),
            web.get("/api/smtpmock/faults", self.get_faults),
            web.post("/api/smtpmock/faults", self.add_fault),
            web.delete("/api/smtpmock/faults", self.clear_faults),
        ]

    async def message_stored(self, view: MessageView) -> None:
        """Tell the listeners of ``/api/events`` about a new message."""
        if self.events.clients:
            await self.events.broadcast("new", summary_json(view))
            await self.events.broadcast("stats", stats_json(self.store))

    # Lists and searches.

    async def list_messages(self, request: web.Request) -> web.Response:
        return self._page(request, self.store.messages(), None)

    async def search(self, request: web.Request) -> web.Response:
        test = query_test(request)
        return self._page(request, self._search(test), test)

    def _search(self, test: Test) -> list[MessageView]:
        try:
            return self.store.search(test)
        except SearchError as error:
            raise APIError(400, str(error)) from None

    def _page(
        self, request: web.Request, found: list[MessageView], test: Any
    ) -> web.Response:
        start, limit = paging(request)
        everything = self.store.messages() if test else found
        page = found[start : start + limit] if limit else found[start:]
        return web.json_response(
            {
                "total": len(everything),
                "unread": self.store.unread_count(everything),
                "count": len(page),
                "messages_count": len(found),
                "messages_unread": self.store.unread_count(found),
                "start": start,
                "tags": self.store.all_tags(),
                "messages": [summary_json(view) for view in page],
            }
        )

    async def set_read_status(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        ids, search = body.get("IDs") or [], body.get("Search") or ""
        if ids and search:
            raise APIError(
                400, "You may specify either IDs or a search query, not both"
            )
        if search:
            views = self._search(parse_search(search))
        elif ids:
            views = self._known(ids)
        else:
            views = self.store.messages()
        read = bool(body.get("Read", False))
        for view in self.store.set_read(views, read):
            await self.events.broadcast("update", {"ID": view.id, "Read": read})
        await self.events.broadcast("stats", stats_json(self.store))
        return ok()

    async def delete_messages(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        ids = body.get("IDs") or []
        if ids:
            await self._delete(self._known(ids))
        else:
            self.store.delete_all()
            await self.events.broadcast("truncate", None)
        await self.events.broadcast("stats", stats_json(self.store))
        return ok()

    async def delete_search(self, request: web.Request) -> web.Response:
        await self._delete(self._search(query_test(request)))
        await self.events.broadcast("stats", stats_json(self.store))
        return ok()

    async def _delete(self, views: list[MessageView]) -> None:
        self.store.delete(views)
        for view in views:
            await self.events.broadcast("delete", {"ID": view.id})

    def _known(self, ids: Any) -> list[MessageView]:
        if not isinstance(ids, list):
            raise APIError(400, "IDs must be a list of message IDs.")
        found = (self.store.find(str(i)) for i in ids)
        return [view for view in found if view is not None]

    # One message.

    def _message(self, request: web.Request) -> MessageView:
        message_id = request.match_info["id"]
        view = self.store.find(message_id)
        if view is None:
            raise APIError(404, f"Message '{message_id}' not found.")
        return view

    async def get_message(self, request: web.Request) -> web.Response:
        view = self._message(request)
        if self.store.set_read([view], True):
            await self.events.broadcast("update", {"ID": view.id, "Read": True})
            await self.events.broadcast("stats", stats_json(self.store))
        return web.json_response(message_json(view))

    async def get_headers(self, request: web.Request) -> web.Response:
        return web.json_response(headers_json(self._message(request).message))

    async def get_raw(self, request: web.Request) -> web.Response:
        view = self._message(request)
        response = web.Response(
            body=view.message.raw, content_type="text/plain", charset="utf-8"
        )
        if request.query.get("dl") == "1":
            response.headers["Content-Disposition"] = (
                f'attachment; filename="{view.id}.eml"'
            )
        return response

    async def get_part(self, request: web.Request) -> web.Response:
        view = self._message(request)
        part_id = request.match_info["part"]
        attachment = view.part(part_id)
        if attachment is None:
            raise APIError(404, f"Message {view.id} has no part '{part_id}'.")
        name = attachment.filename or attachment.content_id or part_id
        return web.Response(
            body=attachment.content,
            headers={
                "Content-Type": attachment.content_type,
                "Content-Disposition": f'inline; filename="{quote(name)}"',
            },
        )

    async def link_check(self, request: web.Request) -> web.Response:
        """Mailpit's link check, done by SMTPMockLibrary.linkcheck.

        Redirects are always followed (``follow`` is accepted and ignored):
        the status shown is the final one.
        """
        view = self._message(request)
        results = await asyncio.to_thread(check_links, view.message.links)
        links = [
            {
                "URL": result.link,
                "StatusCode": result.status or 0,
                "Status": result.error or result.reason,
            }
            for result in results
            if result.skipped is None
        ]
        errors = sum(1 for r in results if not r.ok)
        return web.json_response({"Errors": errors, "Links": links})

    async def view_html(self, request: web.Request) -> web.Response:
        view = self._message(request)
        if not view.message.html:
            raise APIError(404, f"Message {view.id} has no HTML body.")
        html = view.message.html
        for _part_id, attachment in view.inlines():
            html = html.replace(f"cid:{attachment.content_id}", data_url(attachment))
        remote = " http: https:" if request.query.get("remote_images") == "1" else ""
        return web.Response(
            text=html,
            content_type="text/html",
            headers={"Content-Security-Policy": VIEW_POLICY.format(remote=remote)},
        )

    async def view_text(self, request: web.Request) -> web.Response:
        return web.Response(text=self._message(request).message.text)

    # Tags.

    async def get_tags(self, request: web.Request) -> web.Response:
        return web.json_response(self.store.all_tags())

    async def set_tags(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        tags = body.get("Tags") or []
        if not isinstance(tags, list):
            raise APIError(400, "Tags must be a list of tag names.")
        for view in self._known(body.get("IDs") or []):
            self.store.set_tags(view, [str(tag) for tag in tags])
            await self.events.broadcast("update", {"ID": view.id, "Tags": view.tags()})
        return ok()

    async def rename_tag(self, request: web.Request) -> web.Response:
        old = request.match_info["tag"]
        new = clean_tags([str((await json_object(request)).get("Name", ""))])
        if not new:
            raise APIError(400, "Name must be a tag name of at least one character.")
        self._replace_tag(old, new)
        await self.events.broadcast("prune", None)
        return ok()

    async def delete_tag(self, request: web.Request) -> web.Response:
        self._replace_tag(request.match_info["tag"], [])
        await self.events.broadcast("prune", None)
        return ok()

    def _replace_tag(self, old: str, new: list[str]) -> None:
        for view in self.store.messages():
            tags = view.tags()
            if old in tags:
                self.store.set_tags(view, [t for t in tags if t != old] + new)

    # Sending, settings and faults.

    async def send(self, request: web.Request) -> web.Response:
        try:
            raw, sender, recipients = build_message(await json_body(request))
        except SendError as error:
            raise APIError(400, str(error)) from None
        message = self.server.deliver(raw, recipients, sender)
        return web.json_response({"ID": str(message.sequence)})

    async def alive(self, request: web.Request) -> web.Response:
        """Mailpit's health checks, for container orchestrators."""
        return web.Response(text="ok")

    async def info(self, request: web.Request) -> web.Response:
        messages = self.store.messages()
        tags: dict[str, int] = {}
        for view in messages:
            for tag in view.tags():
                tags[tag] = tags.get(tag, 0) + 1
        mailbox = self.server.messages
        return web.json_response(
            {
                "Version": f"smtpmock {__version__}",
                "LatestVersion": "disabled",
                "Database": "",
                "DatabaseSize": 0,
                "Messages": len(messages),
                "Unread": self.store.unread_count(messages),
                "Tags": tags,
                "RuntimeStats": {
                    "Uptime": int(time.monotonic() - self.started),
                    "Memory": sum(view.message.size for view in messages),
                    "MessagesDeleted": 0,
                    "SMTPAccepted": mailbox.last_sequence,
                    "SMTPAcceptedSize": sum(m.size for m in mailbox),
                    "SMTPRejected": mailbox.rejection_count,
                    "SMTPIgnored": 0,
                },
            }
        )

    async def webui(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "Label": "smtpmock",
                "MessageRelay": {
                    "Enabled": False,
                    "SMTPServer": "",
                    "ReturnPath": "",
                    "AllowedRecipients": "",
                    "BlockedRecipients": "",
                    "OverrideFrom": "",
                    "PreserveMessageIDs": False,
                    "RecipientAllowlist": "",
                },
                "SpamAssassin": False,
                "ChaosEnabled": True,
                "DuplicatesIgnored": False,
                "HideDeleteAllButton": False,
            }
        )

    async def get_chaos(self, request: web.Request) -> web.Response:
        return web.json_response(self.chaos.get())

    async def set_chaos(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self.chaos.set(await json_body(request)))
        except FaultRequestError as error:
            raise APIError(400, str(error)) from None

    async def get_inboxes(self, request: web.Request) -> web.Response:
        """The server's inboxes and how many messages each has (``unrouted`` too)."""
        return web.json_response(self.server.inboxes.counts())

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(rules_json(self.server.faults))

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            rule = add_fault(self.server.faults, await json_body(request))
        except FaultRequestError as error:
            raise APIError(400, str(error)) from None
        return web.json_response({"Rule": rule.summary(), "Fired": rule.fired})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.server.faults.clear()
        return ok()

    async def verification_code(self, request: web.Request) -> web.Response:
        view = self._message(request)
        code = view.message.verification_code(request.query.get("pattern") or None)
        return web.json_response({"ID": view.id, "Code": code})
