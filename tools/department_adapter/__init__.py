"""Reference department adapter for the gridgov bus (plain pika + the standard library).

Departments integrate with gridgov only through RabbitMQ; this package is the reference
client they can run as it is or copy (``adapter.py`` is self-contained). See README.md.
"""

from .adapter import (
    AdapterConfig,
    AdapterConfigError,
    DepartmentAdapter,
    Refused,
    build_report,
    main,
    parse_message,
)

__all__ = ["AdapterConfig", "AdapterConfigError", "DepartmentAdapter", "Refused",
           "build_report", "main", "parse_message"]
