"""Make psycopg 3 cooperate with eventlet.

psycopg 3's default C wait function blocks the whole eventlet hub: four concurrent
``pg_sleep(1)`` take four seconds in one nameko service. ``wait_select`` is green once
``select`` is monkey-patched (``wait_poll``/``wait_epoll`` fail under eventlet).
Import this module before the first connection is opened.
"""

import os

import psycopg.waiting

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
psycopg.waiting.wait = psycopg.waiting.wait_select
