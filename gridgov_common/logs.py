"""JSON-lines logging with the nameko call id as correlation id.

Configured from each service's ``config.yaml`` ``LOGGING`` section::

    formatters: {json: {(): gridgov_common.logs.JsonFormatter}}
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from eventlet import corolocal
from nameko.extensions import DependencyProvider

_local = corolocal.local()


def current_call_id() -> str | None:
    return getattr(_local, "call_id", None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, call_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "call_id": current_call_id(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class CallIdLogging(DependencyProvider):
    """Puts the worker's call id where the formatter finds it, for every log line."""

    def get_dependency(self, worker_ctx):
        return worker_ctx.call_id

    def worker_setup(self, worker_ctx) -> None:
        _local.call_id = worker_ctx.call_id

    def worker_teardown(self, worker_ctx) -> None:
        _local.call_id = None
