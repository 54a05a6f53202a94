"""Mailpit's link check: request every link of a message and report its status."""

from __future__ import annotations

import asyncio

import aiohttp

CHECK_TIMEOUT = 10.0
PARALLEL = 5


async def check_links(links: list[str], follow_redirects: bool) -> dict:
    """``{"Errors": n, "Links": [{"URL", "StatusCode", "Status"}]}`` as Mailpit answers.

    Each link is requested with GET (at most ``PARALLEL`` at once, each within
    ``CHECK_TIMEOUT`` seconds); a status of 400 or more, or no answer, is an error.
    """
    limit = asyncio.Semaphore(PARALLEL)
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def check(url: str) -> dict:
            async with limit:
                return await _check(session, url, follow_redirects)

        results = await asyncio.gather(*(check(url) for url in links))
    errors = sum(1 for r in results if not 0 < r["StatusCode"] < 400)
    return {"Errors": errors, "Links": list(results)}


async def _check(session: aiohttp.ClientSession, url: str, follow: bool) -> dict:
    try:
        async with session.get(url, allow_redirects=follow) as response:
            return {
                "URL": url,
                "StatusCode": response.status,
                "Status": response.reason or "",
            }
    except asyncio.TimeoutError:
        return {"URL": url, "StatusCode": 0, "Status": "Timed out"}
    except (aiohttp.ClientError, ValueError) as error:
        return {
            "URL": url,
            "StatusCode": 0,
            "Status": str(error) or type(error).__name__,
        }
