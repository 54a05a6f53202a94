"""Reading requests and answering errors, for the HTTP API's handlers."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .http_search import SearchError, Test, parse_query

MAX_PAGE = 10_000


class APIError(Exception):
    """Answered as ``{"Error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def ok() -> web.Response:
    return web.Response(text="ok")


def paging(request: web.Request) -> tuple[int, int]:
    return (
        whole_number(request, "start", 0, None),
        whole_number(request, "limit", 50, MAX_PAGE),
    )


def whole_number(
    request: web.Request, name: str, default: int, most: int | None
) -> int:
    value = request.query.get(name, "")
    if value == "":
        return default
    if not re.fullmatch(r"\d{1,9}", value) or (most is not None and int(value) > most):
        upper = f" to {most}" if most is not None else " or more"
        raise APIError(
            400,
            f"Parameter '{name}' must be a whole number from 0{upper}, got '{value}'.",
        )
    return int(value)


def query_test(request: web.Request) -> Test:
    query = request.query.get("query", "").strip()
    if not query:
        raise APIError(400, "Error: no search query")
    return parse_search(query)


def parse_search(query: str) -> Test:
    try:
        return parse_query(query)
    except SearchError as error:
        raise APIError(400, str(error)) from None


async def json_body(request: web.Request) -> Any:
    body = await request.read()
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as error:
        raise APIError(400, f"The request body is not valid JSON: {error}.") from None


async def json_object(request: web.Request) -> dict:
    body = await json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.")
    return body
