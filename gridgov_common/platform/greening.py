"""Make psycopg 3 cooperate with eventlet.

psycopg 3's default C wait function blocks the whole eventlet hub: four concurrent
``pg_sleep(1)`` take four seconds in one nameko service. ``wait_select`` is green once
``select`` is monkey-patched (``wait_poll``/``wait_epoll`` fail under eventlet), and
``PSYCOPG_WAIT_FUNC=wait_select`` (set here and in every deployment's environment) makes
psycopg choose it even when psycopg was imported before this module.

Once this module is imported, statements wait with :func:`wait_green` instead: one
``trampoline`` on the socket per wait. Eventlet's green ``select`` builds a listener per
list, a timer for psycopg's 0.1 s interval and closures on every call, and a statement
waits once or twice: 175–185 → 130–160 µs of a service's CPU per statement on a 2-core
machine whose system calls are slow (issue 16). Import this module before the first
connection is opened.
"""

from __future__ import annotations

import os
import select
from time import monotonic

import psycopg.waiting
from eventlet.hubs import trampoline
from psycopg import errors
from psycopg.waiting import Ready, Wait

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

_READY = {Wait.R: Ready.R, Wait.W: Ready.W}


def wait_green(gen, fileno: int, interval: float = 0.0, timeout: float | None = None):
    """Run psycopg's generator ``gen`` to its end, parking this greenthread on the
    socket whenever it must wait (psycopg's ``wait`` signature).

    ``interval`` is ignored: psycopg wakes up every ``interval`` only to let Python see
    signals, which eventlet's hub sees anyway. ``timeout`` bounds the whole wait, as in
    psycopg (``_WaitTimeout``). A socket closed under us wakes the read side; the
    generator then raises psycopg's own ``OperationalError``. Waiting for either side
    (a large query not yet sent while results come back) goes through the green
    ``select``: a trampoline waits for one side only."""
    deadline = monotonic() + timeout if timeout is not None else None
    try:
        state = next(gen)
        while True:
            left = None if deadline is None else max(deadline - monotonic(), 0.0)
            if state == Wait.RW:
                state = gen.send(_either(fileno, left))
                continue
            trampoline(fileno, read=state == Wait.R, write=state == Wait.W,
                       timeout=left, timeout_exc=errors._WaitTimeout)
            state = gen.send(_READY[state])
    except StopIteration as done:
        return done.value


def _either(fileno: int, left: float | None) -> Ready:
    """Wait until the socket can be read or written (green ``select``)."""
    readable, writable, failed = select.select((fileno,), (fileno,), (fileno,), left)
    if failed:
        raise errors.OperationalError("connection socket closed")
    if not (readable or writable):
        raise errors._WaitTimeout("wait timeout expired")
    return (Ready.R if readable else Ready.NONE) | (Ready.W if writable else Ready.NONE)


psycopg.waiting.wait = wait_green
