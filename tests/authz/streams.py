"""Requests for the route walks: the wall's server-sent-event stream (GET /dashboard/events,
issue 14) never ends, so a walk reads its first event as the answer and closes it; any
other answer is read whole, as a plain request would."""

from __future__ import annotations

STREAM = "text/event-stream"


def request(web_session, method: str, url: str, **kwargs):
    response = web_session.request(method, url, stream=True, **kwargs)
    if not response.headers.get("Content-Type", "").startswith(STREAM):
        response.content  # noqa: B018  (read whole)
        return response
    first = b""
    for chunk in response.iter_content(chunk_size=None):
        first += chunk
        if b"\n\n" in first:
            break
    response.close()
    response._content = first  # what .text and .json() read
    return response
