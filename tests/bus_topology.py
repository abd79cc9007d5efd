"""What exists on gridgov's bus, read from the code: the exchanges of the contract and every
queue a gridgov service consumes (its consumer entrypoints), with their dead-letter queues.
Used by the bus permission walks (tests/test_bus_users.py, tests/test_service_users.py)."""

from __future__ import annotations

import importlib
import inspect

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from gridgov_common.contract import dlq_name
from gridgov_common.platform.messaging import ReliableConsumer

SERVICE_NAMES = ("registry", "events", "dispatch", "assessment", "notify")


def service_class(service: str) -> type:
    module = importlib.import_module(f"services.{service}.service")
    classes = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
               if getattr(obj, "name", None) == service and obj.__module__ == module.__name__]
    assert len(classes) == 1, (service, classes)
    return classes[0]


def consumers(service: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """queue -> (exchange, routing keys) of every consumer entrypoint of ``service``."""
    found = {}
    for _, method in inspect.getmembers(service_class(service), inspect.isfunction):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, ReliableConsumer):
                found[entrypoint.queue_name] = (entrypoint.exchange,
                                                tuple(entrypoint.routing_keys))
    return found


def delivery_limits(service: str) -> dict[str, int]:
    """queue -> x-delivery-limit of every consumer entrypoint of ``service``."""
    return {entrypoint.queue_name: entrypoint.max_redeliveries
            for _, method in inspect.getmembers(service_class(service), inspect.isfunction)
            for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ())
            if isinstance(entrypoint, ReliableConsumer)}


def platform_queues() -> dict[str, str]:
    """Every queue the five services declare -> the service: consuming queues and DLQs."""
    queues = {}
    for service in SERVICE_NAMES:
        for queue in consumers(service):
            queues[queue] = service
            queues[dlq_name(queue)] = service
    return queues
