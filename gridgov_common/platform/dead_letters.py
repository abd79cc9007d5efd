"""List dead letters for an operator, personal data masked (issue 10, item 4).

Refused intake messages can carry residents' ID numbers and phone numbers (a department's
data push, a report quoting a resident); the management UI shows them in clear. This lists
them through the RabbitMQ management API *without removing them* (``ack_requeue_true``:
each message goes back to its queue, marked redelivered) and masks, with the registry's
own display masks (``gridgov_common.kernel.pii``, P5.4.4):

* every value under a personal key (``id_number``, ``phone``, ``mobile``, ``id_card`` …,
  at any depth of a JSON body, and in the ``x-gridgov-error-fields`` header);
* every 18-character ID number and 11-digit mobile number anywhere else in the text (a
  body that is not JSON, an error message quoting a value, a free-text description).

A compressed body is not opened (its size is shown). Retention of dead letters is bounded
by the broker policy ``gridgov-dead-letter-retention`` (docs/BUS-SECURITY.md); the replay
procedure is deploy/README.md "Draining and replaying a dead-letter queue".

    python -m gridgov_common.platform.dead_letters list  # every DLQ that holds some
    python -m gridgov_common.platform.dead_letters list registry.intake.dlq --count 20 [--json]

The management API comes from ``GRIDGOV_RABBIT_API_URL`` (``http://user:pw@host:15672``)
or, like the dashboard's, from ``GRIDGOV_AMQP_URI`` (same host and credentials, port
15672); the vhost from ``--vhost`` or the AMQP URI's path.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from typing import Any
from urllib.parse import quote, unquote, urlparse, urlunparse

import requests

from gridgov_common.contract.routing import DLQ_SUFFIX
from gridgov_common.kernel.pii import mask_id_number, mask_phone

MANAGEMENT_PORT = 15672
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"
DEFAULT_COUNT = 10
TIMEOUT = 10.0
MAX_DEPTH = 64  # a dead letter may be hostile: deeper JSON is masked as text
ID_KEYS = ("id_number", "idnumber", "id_card", "idcard", "identity_number")
PHONE_KEYS = ("phone", "mobile", "telephone")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ERROR_FIELDS_HEADER = "x-gridgov-error-fields"
SHOWN_HEADERS = ("message_id", "x-gridgov-error-code", "x-gridgov-error-message",
                 ERROR_FIELDS_HEADER, "x-gridgov-original-exchange",
                 "x-gridgov-original-routing-key", "x-death")


# -- masking ---------------------------------------------------------------------------------

def _kind(key: Any) -> str | None:
    name = str(key).lower().replace("-", "_")
    if any(part in name for part in ID_KEYS):
        return "id"
    if any(part in name for part in PHONE_KEYS):
        return "phone"
    return None


def mask_text(text: str) -> str:
    """ID numbers and mobile numbers anywhere in free text."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


def _mask_scalar(kind: str | None, value: Any) -> Any:
    if kind is not None and value is not None and not isinstance(value, dict | list):
        text = str(value)
        return mask_id_number(text) if kind == "id" else mask_phone(text)
    return mask_text(value) if isinstance(value, str) else value


def mask_document(value: Any, kind: str | None = None, depth: int = 0) -> Any:
    """A JSON document with every personal value masked (keys and free text alike)."""
    if depth > MAX_DEPTH:
        return mask_text(json.dumps(value, ensure_ascii=False))
    if isinstance(value, dict):
        return {key: mask_document(item, _kind(key) or kind, depth + 1)
                for key, item in value.items()}
    if isinstance(value, list):
        return [mask_document(item, kind, depth + 1) for item in value]
    return _mask_scalar(kind, value)


def mask_body(raw: bytes) -> Any:
    """A body as shown: masked JSON if it parses, else masked text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return mask_text(text)
    return mask_document(document)


def mask_headers(headers: dict[str, Any]) -> dict[str, Any]:
    shown = {}
    for name in SHOWN_HEADERS:
        if name not in headers:
            continue
        value = headers[name]
        if name == ERROR_FIELDS_HEADER and isinstance(value, str):
            try:
                value = json.dumps(mask_document(json.loads(value)), ensure_ascii=False)
            except (ValueError, RecursionError):
                value = mask_text(value)
        shown[name] = mask_document(value)
    return shown


# -- the management API ----------------------------------------------------------------------

def api_url_from_amqp(amqp_uri: str) -> str:
    """The management API beside the broker: same host and credentials, port 15672."""
    parsed = urlparse(amqp_uri)
    user = unquote(parsed.username or "guest")  # urlparse leaves them %-encoded
    password = unquote(parsed.password or "guest")
    host = parsed.hostname or "127.0.0.1"
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{MANAGEMENT_PORT}"


def vhost_from_amqp(amqp_uri: str) -> str:
    path = urlparse(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _split(url: str) -> tuple[str, tuple[str, str] | None]:
    parsed = urlparse(url)
    if parsed.username is None:
        return url.rstrip("/"), None
    netloc = parsed.hostname or ""
    if parsed.port:
        netloc = f"{netloc}:{parsed.port}"
    return (urlunparse(parsed._replace(netloc=netloc)).rstrip("/"),
            (unquote(parsed.username), unquote(parsed.password or "")))


def dead_letter_queues(api_url: str, vhost: str) -> list[dict[str, Any]]:
    base, auth = _split(api_url)
    response = requests.get(f"{base}/api/queues/{quote(vhost, safe='')}", auth=auth,
                            params={"columns": "name,messages"}, timeout=TIMEOUT)
    response.raise_for_status()
    return sorted((q for q in response.json() if q["name"].endswith(DLQ_SUFFIX)),
                  key=lambda q: q["name"])


def peek(api_url: str, vhost: str, queue: str, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` messages of ``queue``, each put back (``ack_requeue_true``)."""
    base, auth = _split(api_url)
    response = requests.post(
        f"{base}/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}/get", auth=auth,
        json={"count": count, "ackmode": "ack_requeue_true", "encoding": "auto",
              "truncate": 1_000_000}, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def shown(queue: str, message: dict[str, Any]) -> dict[str, Any]:
    """One dead letter as an operator sees it: where from, why, and the masked body."""
    properties = message.get("properties") or {}
    headers = dict(properties.get("headers") or {})
    if properties.get("message_id"):
        headers.setdefault("message_id", properties["message_id"])
    payload = message.get("payload") or ""
    raw = (base64.b64decode(payload) if message.get("payload_encoding") == "base64"
           else payload.encode("utf-8"))
    if headers.get("compression") or properties.get("content_encoding") not in (
            None, "", "utf-8", "identity"):
        body: Any = f"[compressed body of {len(raw)} bytes, not opened]"
    else:
        body = mask_body(raw)
    return {"queue": queue, "routing_key": message.get("routing_key"),
            "redelivered": message.get("redelivered"), "headers": mask_headers(headers),
            "body": body}


def list_dead_letters(api_url: str, vhost: str, queue: str | None = None,
                      count: int = DEFAULT_COUNT) -> list[dict[str, Any]]:
    # every DLQ is asked (the API's message counts lag by seconds; an empty one gives none)
    queues = [queue] if queue else [q["name"] for q in dead_letter_queues(api_url, vhost)]
    return [shown(name, message) for name in queues
            for message in peek(api_url, vhost, name, count)]


# -- the CLI -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridgov_common.platform.dead_letters")
    commands = parser.add_subparsers(dest="cmd", required=True)
    listing = commands.add_parser("list", help="show dead letters, personal data masked "
                                               "(nothing is removed)")
    listing.add_argument("queue", nargs="?", help="a <queue>.dlq (default: every DLQ that "
                                                  "holds messages)")
    listing.add_argument("--count", type=int, default=DEFAULT_COUNT,
                         help="at most this many per queue")
    listing.add_argument("--vhost", default=None)
    listing.add_argument("--api", default=None, help="management API URL "
                         "(default GRIDGOV_RABBIT_API_URL, else from GRIDGOV_AMQP_URI)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    amqp_uri = os.environ.get("GRIDGOV_AMQP_URI") or DEFAULT_AMQP_URI
    api = args.api or os.environ.get("GRIDGOV_RABBIT_API_URL") or api_url_from_amqp(amqp_uri)
    vhost = args.vhost or vhost_from_amqp(amqp_uri)
    if args.queue and not args.queue.endswith(DLQ_SUFFIX):
        print(f"error: {args.queue} is not a dead-letter queue (<queue>{DLQ_SUFFIX})",
              file=sys.stderr)
        return 2
    try:
        letters = list_dead_letters(api, vhost, args.queue, max(1, args.count))
    except requests.RequestException as exc:
        print(f"error: the management API failed: {exc}", file=sys.stderr)
        return 1
    for letter in letters:
        if args.json:
            print(json.dumps(letter, ensure_ascii=False))
        else:
            print(f"--- {letter['queue']}  routing key {letter['routing_key']}")
            for name, value in letter["headers"].items():
                print(f"    {name}: {value}")
            print(json.dumps(letter["body"], ensure_ascii=False, indent=2)
                  if not isinstance(letter["body"], str) else letter["body"])
    if not letters:
        print("no dead letters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
