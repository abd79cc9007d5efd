"""Queue depths and dead-letter counts from the RabbitMQ management API.

Every consuming queue ``q`` has its dead-letter queue ``q.dlq`` (gridgov_common.platform.messaging);
the dashboard shows one row per consuming queue with both depths, so an operator sees at a
glance which consumer is rejecting messages.  nameko's RPC reply queues are left out: they
are per-process plumbing, not work waiting.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse, urlunparse

import requests

from gridgov_common.contract.routing import DLQ_SUFFIX

REPLY_QUEUE_PREFIX = "rpc.reply-"


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without user:password, and those as requests' basic auth."""
    parsed = urlparse(url)
    if parsed.username is None:
        return url, None
    netloc = parsed.hostname or ""
    if parsed.port:
        netloc = f"{netloc}:{parsed.port}"
    auth = (unquote(parsed.username), unquote(parsed.password or ""))
    return urlunparse(parsed._replace(netloc=netloc)), auth


def fetch_queues(queues_url: str, timeout: float) -> list[dict[str, Any]]:
    """The management API's queue objects of one vhost (raises on any failure)."""
    url, auth = _split_credentials(queues_url)
    response = requests.get(url, auth=auth, timeout=timeout,
                            params={"columns": "name,messages,messages_ready,"
                                               "messages_unacknowledged,consumers"})
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, list):
        raise ValueError("the management API did not answer with a list of queues")
    return body


def _depth(queue: dict[str, Any]) -> int:
    return int(queue.get("messages") or 0)


def summarise(queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per work queue with its DLQ depth; a DLQ without its queue gets its own row.

    ``alert`` is true when dead letters wait: each one is a message a consumer refused.
    """
    by_name = {q["name"]: q for q in queues if not q["name"].startswith(REPLY_QUEUE_PREFIX)}
    rows = []
    for name in sorted(by_name):
        if name.endswith(DLQ_SUFFIX) and name[:-len(DLQ_SUFFIX)] in by_name:
            continue  # shown on its queue's row
        queue = by_name[name]
        is_dlq = name.endswith(DLQ_SUFFIX)
        dlq = queue if is_dlq else by_name.get(name + DLQ_SUFFIX)
        dlq_depth = _depth(dlq) if dlq is not None else None
        rows.append({
            "name": name,
            "messages": 0 if is_dlq else _depth(queue),
            "ready": 0 if is_dlq else int(queue.get("messages_ready") or 0),
            "unacked": 0 if is_dlq else int(queue.get("messages_unacknowledged") or 0),
            "consumers": int(queue.get("consumers") or 0),
            "dlq": dlq["name"] if dlq is not None else None,
            "dlq_messages": dlq_depth,
            "alert": bool(dlq_depth),
        })
    return rows
