"""Per-department RabbitMQ users: created, revoked and listed through the management API.

Issue 5 ("Security on the bus"): each department logs in as its own user ``dept.<code>``
that can touch only its own queues ``dept.<code>.*`` and publish only keys that start with
its own code. Issue 10: a department has no configure right at all (it could otherwise
declare an exchange ``dept.<code>.x``, bind it to ``gridgov.intake`` and publish any key
through it); the platform declares its queues for it (:func:`department_queues`), at
``create`` and in the definitions, and dead-letter queues get a bounded retention
(:data:`DEAD_LETTER_POLICY`). The grants are the least the reference adapter
(tools/department_adapter) needs; docs/BUS-SECURITY.md explains each one.

CLI: ``python -m tools.bus_users create|rotate|revoke|list|setup|create-service|
definitions`` (see
``--help``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from gridgov_common.contract.routing import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    DLQ_SUFFIX,
    EVENTS_EXCHANGE,
    EXCHANGES,
    INTAKE_EXCHANGE,
    REPORTS_EXCHANGE,
    check_code,
)
from gridgov_common.kernel import department_seed

DEFAULT_API = "http://guest:guest@127.0.0.1:15672"
USER_PREFIX = "dept."
QUEUE_PREFIX = "dept."  # queues are dept.<code>.<purpose> (docs/BUS-CONTRACT.md section 9)
TIMEOUT = 10.0
# Departments of the demo data: the register's first version (kernel/departments.json,
# the departments services/dispatch/domain/default_rules.json routes to).
DEMO_DEPARTMENTS: tuple[str, ...] = department_seed.codes()


# The department queues the platform declares (a department cannot: configure is ^$).
# Same arguments as gridgov's own consuming queues (platform.messaging), each with its
# <queue>.dlq on gridgov.dlx. Assignments get every key of the department on
# gridgov.dispatch (assignments, <code>.rejections, <code>.decisions); alerts get every
# major-event alert (BUS-CONTRACT section 5, alert.major_event: "whoever subscribes").
ASSIGNMENTS_QUEUE = "assignments"
ALERTS_QUEUE = "alerts"
DEPARTMENT_DELIVERY_LIMIT = 5

# Dead letters can carry personal data (a refused intake push holds an ID number and a
# phone in plaintext): every <queue>.dlq keeps a message at most 14 days and at most
# 50,000 messages (the oldest are dropped first). docs/BUS-SECURITY.md, "Dead letters".
DEAD_LETTER_POLICY_NAME = "gridgov-dead-letter-retention"
DEAD_LETTER_TTL_MS = 14 * 24 * 3600 * 1000
DEAD_LETTER_MAX_LENGTH = 50_000
DEAD_LETTER_POLICY: dict[str, Any] = {
    "pattern": rf"{re.escape(DLQ_SUFFIX)}$", "apply-to": "queues", "priority": 0,
    "definition": {"message-ttl": DEAD_LETTER_TTL_MS, "max-length": DEAD_LETTER_MAX_LENGTH,
                   "overflow": "drop-head"},
}


class BusUsersError(Exception):
    """The management API refused or failed a request."""


@dataclass(frozen=True)
class Grants:
    """Everything RabbitMQ is told about one department user on one vhost."""

    configure: str
    write: str
    read: str
    topic: dict[str, tuple[str, str]]  # exchange -> (write, read) regex


@dataclass(frozen=True)
class QueueSpec:
    """A queue the platform declares, with its bindings (exchange, routing key)."""

    name: str
    arguments: dict[str, Any]
    bindings: tuple[tuple[str, str], ...]


def _consumer_arguments(queue: str) -> dict[str, Any]:
    from gridgov_common.platform.messaging import consumer_queue_arguments  # nameko: only when used
    return consumer_queue_arguments(queue, DEPARTMENT_DELIVERY_LIMIT)


def department_queues(department: str) -> list[QueueSpec]:
    """``dept.<code>.assignments`` and ``dept.<code>.alerts``, each with its ``.dlq``: the
    only queues a department reads; the department declares them passively."""
    code = check_code(department, "department")
    specs = []
    for purpose, exchange, key in ((ASSIGNMENTS_QUEUE, DISPATCH_EXCHANGE, f"{code}.#"),
                                   (ALERTS_QUEUE, ALERTS_EXCHANGE, "#")):
        queue = f"{QUEUE_PREFIX}{code}.{purpose}"
        dlq = f"{queue}{DLQ_SUFFIX}"
        specs.append(QueueSpec(dlq, {"x-queue-type": "quorum"},
                               ((DEAD_LETTER_EXCHANGE, dlq),)))
        specs.append(QueueSpec(queue, _consumer_arguments(queue), ((exchange, key),)))
    return specs


# --- the five services' own users (issue 10, item 6) --------------------------------------
# One broker user per service, ``svc.<service>``, instead of one administrator for all:
# each may declare only its own queues (exact names), bind them only with its own keys,
# consume only them, and publish only the keys it produces. Everything is derived from
# SERVICES; tests/test_service_users.py checks the table against the consumers in the
# code and runs the case flow with every service on its own user.
SERVICE_USER_PREFIX = "svc."
RPC_EXCHANGE = "nameko-rpc"  # nameko's RPC exchange (nameko.rpc.get_rpc_exchange)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_DEPARTMENT_KEY = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"  # CODE_RE, as a regex fragment
_REJECTIONS = rf"^{_DEPARTMENT_KEY}\.rejections$"  # <department>.rejections


@dataclass(frozen=True)
class ServiceBus:
    """What one service does on the bus (read from its code; the test compares)."""

    consumes: tuple[tuple[str, str, tuple[str, ...]], ...]  # (queue, exchange, binding keys)
    publishes: tuple[tuple[str, str], ...]  # (exchange, regex of the keys it publishes)
    rpc_serves: bool = False  # has @rpc entrypoints: queue rpc-<service>
    rpc_calls: tuple[str, ...] = ()  # services it calls (RpcProxy): rpc.reply-<service>-<uuid>
    tags: tuple[str, ...] = ()  # management-API tags


SERVICES: dict[str, ServiceBus] = {
    "registry": ServiceBus(
        consumes=(("registry.intake", INTAKE_EXCHANGE,
                   ("*.resident.moved_out", "*.resident.updated")),
                  ("registry.staff_flagged", EVENTS_EXCHANGE, ("assessment.staff.flagged",)),
                  ("registry.callback_phones", EVENTS_EXCHANGE,
                   ("events.callback_phone.kept",))),
        publishes=((EVENTS_EXCHANGE, r"^registry\."),
                   (DISPATCH_EXCHANGE, _REJECTIONS)),  # a refused push, told to its sender
        rpc_serves=True, rpc_calls=("notify",)),  # administrators' sign-in codes by SMS
    "events": ServiceBus(
        consumes=(("events.intake", INTAKE_EXCHANGE, ("*.case.report",)),
                  ("events.case_changes", EVENTS_EXCHANGE, ("dispatch.case.changed",
                                                             "dispatch.case.photos_attached")),
                  ("events.departments", EVENTS_EXCHANGE, ("registry.department.changed",)),
                  ("events.registry_grids", EVENTS_EXCHANGE, ("registry.grid.changed",))),
        publishes=((EVENTS_EXCHANGE, r"^events\."),
                   (ALERTS_EXCHANGE, r"^[0-9]{9}\.(?:minor|major|critical)\.[a-z0-9_]+$"),
                   (DISPATCH_EXCHANGE, _REJECTIONS)),
        rpc_calls=("registry",)),
    "dispatch": ServiceBus(
        consumes=(("dispatch.cases", EVENTS_EXCHANGE, ("events.case.reported",)),
                  ("dispatch.registry_staff", EVENTS_EXCHANGE, ("registry.staff.changed",)),
                  ("dispatch.reports", REPORTS_EXCHANGE, ("*.*",)),
                  ("dispatch.notifications", EVENTS_EXCHANGE, ("notify.sent",)),
                  ("dispatch.duplicates", EVENTS_EXCHANGE,
                   ("events.case.duplicate_decided",)),
                  ("dispatch.master_data", EVENTS_EXCHANGE,
                   ("registry.department.changed", "events.catalogue.published"))),
        publishes=((EVENTS_EXCHANGE, r"^(?:dispatch\..+|notify\.request)$"),
                   # assignments <department>.<town>.<category>.<priority>
                   (DISPATCH_EXCHANGE, rf"^{_DEPARTMENT_KEY}\.(?:rejections|decisions|"
                                       r"[0-9]{9}\.[a-z0-9_]+\.(?:normal|urgent|major))$")),
        rpc_serves=True, rpc_calls=("registry",)),  # town names for the digests
    "assessment": ServiceBus(
        consumes=(("assessment.registry_grids", EVENTS_EXCHANGE, ("registry.grid.changed",)),
                  ("assessment.registry_staff", EVENTS_EXCHANGE, ("registry.staff.changed",))),
        publishes=((EVENTS_EXCHANGE, r"^assessment\."),),
        rpc_calls=("dispatch", "registry"),
        tags=("management",)),  # the dashboard reads queue depths from the management API
    "notify": ServiceBus(
        consumes=(("notify.alerts", ALERTS_EXCHANGE, ("#",)),
                  ("notify.escalations", EVENTS_EXCHANGE, ("dispatch.escalation",)),
                  ("notify.meeting_reminders", EVENTS_EXCHANGE, ("assessment.meeting.reminder",)),
                  ("notify.circulars", EVENTS_EXCHANGE, ("assessment.circular.published",)),
                  ("notify.departments", EVENTS_EXCHANGE, ("registry.department.changed",)),
                  ("notify.requests", EVENTS_EXCHANGE, ("notify.request",))),
        publishes=((EVENTS_EXCHANGE, r"^notify\."),),
        rpc_serves=True),  # send_sign_in_code, for the registry (issue 12)
}


def service_queues(service: str) -> list[QueueSpec]:
    """The queues of ``service`` the platform declares and binds (its user may not): each
    consuming queue with gridgov's arguments (gridgov_common.platform.messaging) and its ``.dlq``,
    and ``rpc-<service>`` for an RPC server (nameko's layout)."""
    from gridgov_common.platform.messaging import DEFAULT_MAX_REDELIVERIES, consumer_queue_arguments
    specs = []
    for queue, exchange, keys in SERVICES[service].consumes:
        dlq = f"{queue}{DLQ_SUFFIX}"
        specs.append(QueueSpec(dlq, {"x-queue-type": "quorum"}, ((DEAD_LETTER_EXCHANGE, dlq),)))
        specs.append(QueueSpec(queue, consumer_queue_arguments(queue, DEFAULT_MAX_REDELIVERIES),
                               tuple((exchange, key) for key in keys)))
    if SERVICES[service].rpc_serves:
        specs.append(QueueSpec(f"rpc-{service}", {}, ((RPC_EXCHANGE, f"{service}.*"),)))
    return specs


def service_user_name(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"not a gridgov service: {service!r}")
    return f"{SERVICE_USER_PREFIX}{service}"


def _alternatives(regexes: list[str]) -> str:
    """One regex matching what any of ``regexes`` matches; each starts with ``^`` and ends
    with ``$`` unless it is a prefix (``^registry\\.``)."""
    parts = [r.removeprefix("^") for r in dict.fromkeys(regexes)]
    return "^$" if not parts else f"^(?:{'|'.join(parts)})"


def _exact(names: list[str]) -> list[str]:
    return [rf"^{re.escape(name)}$" for name in names]


def service_grants(service: str) -> Grants:
    r"""Derived from :data:`SERVICES`. The platform declares and binds the service's
    queues (:func:`service_queues`), so no service may declare or bind a gridgov queue or
    exchange: a configure right on ``registry\.intake`` would also let it declare an
    *exchange* of that name and route any key through it (the department hole of issue 10).
    Only an RPC client keeps a configure right: nameko declares its reply queue
    ``rpc.reply-<service>-<uuid>`` (a fresh uuid per process) and ``nameko-rpc`` with it.

    - configure: nothing, or for an RPC client its reply queues and ``nameko-rpc``.
    - write: the exchanges it publishes to, gridgov.dlx (its dead letters), ``nameko-rpc``
      (requests, replies); an RPC client its reply queues (their binding).
    - read: its consuming queues and ``rpc-<service>`` (consume); an RPC client its reply
      queues and ``nameko-rpc`` (the binding's source).
    - topic: publish only its keys on every exchange (an exchange without an entry would
      not be restricted by key); bind only its reply key on ``nameko-rpc``.
    """
    bus = SERVICES[service]
    consuming = [queue for queue, _, _ in bus.consumes]
    reply = [rf"^{re.escape(f'rpc.reply-{service}-')}{_UUID}$"] if bus.rpc_calls else []
    uses_rpc = bus.rpc_serves or bool(bus.rpc_calls)
    rpc_exchange = _exact([RPC_EXCHANGE]) if uses_rpc else []
    topic_write: dict[str, list[str]] = {name: [] for name in EXCHANGES}
    for exchange, keys in bus.publishes:
        topic_write[exchange].append(keys)
    for queue in consuming:
        topic_write[DEAD_LETTER_EXCHANGE].append(rf"^{re.escape(queue + DLQ_SUFFIX)}$")
    topic = {name: (_alternatives(topic_write[name]), "^$") for name in EXCHANGES}
    if uses_rpc:
        write = ([rf"^{_UUID}$"] if bus.rpc_serves else []) + [
            rf"^{re.escape(target)}\.[a-z0-9_]+$" for target in bus.rpc_calls]
        topic[RPC_EXCHANGE] = (_alternatives(write),
                               _alternatives([rf"^{_UUID}$"] if bus.rpc_calls else []))
    targets = sorted({exchange for exchange, _ in bus.publishes} | {DEAD_LETTER_EXCHANGE})
    server = _exact([f"rpc-{service}"]) if bus.rpc_serves else []
    return Grants(
        configure=_alternatives(reply + (rpc_exchange if bus.rpc_calls else [])),
        write=_alternatives(reply + rpc_exchange + _exact(targets)),
        read=_alternatives(_exact(consuming) + server + reply
                           + (rpc_exchange if bus.rpc_calls else [])),
        topic=topic,
    )


def user_name(department: str) -> str:
    """``dept.<code>``: the code is checked so that it cannot smuggle regex syntax in."""
    return f"{USER_PREFIX}{check_code(department, 'department')}"


def _names(*names: str) -> str:
    return "|".join(re.escape(name) for name in names)


def grants(department: str) -> Grants:
    """The least a department needs (P2.2: departments report in; P6.2: they push intake).

    - configure: nothing (``^$``). Neither an exchange (issue 10: an exchange of its own,
      bound to gridgov.intake, published any key) nor a queue: the platform declares and
      binds its queues (:func:`department_queues`).
    - write: gridgov.reports and gridgov.intake (publish), gridgov.dlx (the adapter copies
      a refused message, with its reason, into its own DLQ).
    - read: its own queues (consume). No exchange at all, so it binds nothing: no queue
      binding to another department's keys and no exchange-to-exchange binding (a binding
      needs read on its source).
    - topic: every key it publishes must start with its own code (``dept.<code>.`` on
      gridgov.dlx, the keys of its own DLQs).
    """
    code = check_code(department, "department")
    own = rf"{re.escape(QUEUE_PREFIX + code)}\..*"
    own_key = rf"^{re.escape(code)}\."
    own_dlq_key = rf"^{re.escape(QUEUE_PREFIX + code)}\."
    return Grants(
        configure="^$",
        write=rf"^(?:{_names(REPORTS_EXCHANGE, INTAKE_EXCHANGE, DEAD_LETTER_EXCHANGE)})$",
        read=rf"^(?:{own})$",
        # an exchange without an entry is not restricted by key: every one has an entry
        topic={exchange: {REPORTS_EXCHANGE: (own_key, "^$"), INTAKE_EXCHANGE: (own_key, "^$"),
                          DEAD_LETTER_EXCHANGE: (own_dlq_key, "^$")}.get(exchange, ("^$", "^$"))
               for exchange in EXCHANGES},
    )


class ManagementApi:
    """The few management HTTP API calls this module needs."""

    def __init__(self, url: str | None = None, vhost: str = "/"):
        parts = urlsplit(url or os.environ.get("GRIDGOV_RABBIT_API", DEFAULT_API))
        self.auth = (parts.username or "guest", parts.password or "guest")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.base = urlunsplit((parts.scheme, netloc, "/api", "", ""))
        self.vhost = vhost

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.base}/{path}", json=body, auth=self.auth,
                                    timeout=TIMEOUT)
        if method == "DELETE" and response.status_code == 404:
            return None  # already gone: revoke is idempotent
        if response.status_code >= 400:
            raise BusUsersError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def _v(self) -> str:
        return quote(self.vhost, safe="")

    def declare_exchanges(self) -> None:
        """gridgov's exchanges and nameko's RPC exchange, as the services declare them
        (idempotent)."""
        for name in (*EXCHANGES, RPC_EXCHANGE):
            self._call("PUT", f"exchanges/{self._v()}/{quote(name, safe='')}",
                       {"type": "topic", "durable": True, "auto_delete": False,
                        "internal": False, "arguments": {}})

    def declare_queues(self, specs: list[QueueSpec]) -> None:
        """Declare and bind (idempotent; a queue that exists with other arguments is a 400)."""
        for spec in specs:
            self._call("PUT", f"queues/{self._v()}/{quote(spec.name, safe='')}",
                       {"durable": True, "auto_delete": False, "arguments": spec.arguments})
            for exchange, key in spec.bindings:
                self._call("POST", f"bindings/{self._v()}/e/{quote(exchange, safe='')}/q/"
                                   f"{quote(spec.name, safe='')}",
                           {"routing_key": key, "arguments": {}})

    def apply_policies(self) -> None:
        """The retention of dead letters (:data:`DEAD_LETTER_POLICY`)."""
        self._call("PUT", f"policies/{self._v()}/{quote(DEAD_LETTER_POLICY_NAME, safe='')}",
                   DEAD_LETTER_POLICY)

    def setup(self, departments: list[str]) -> None:
        """What the platform declares on a broker that did not import the definitions
        (``make up``): exchanges, the dead-letter policy, the services' and the
        departments' queues."""
        self.declare_exchanges()
        self.apply_policies()
        for service in SERVICES:
            self.declare_queues(service_queues(service))
        for code in departments:
            self.declare_queues(department_queues(code))

    def create(self, department: str, password: str) -> str:
        """Create (or reset) the user and its grants, after declaring its queues (it cannot
        declare them itself); returns the user name."""
        user = user_name(department)
        g = grants(department)
        self.declare_exchanges()
        self.apply_policies()
        self.declare_queues(department_queues(department))
        self._call("PUT", f"users/{quote(user, safe='')}", {"password": password, "tags": ""})
        self._call("PUT", f"permissions/{self._v()}/{quote(user, safe='')}",
                   {"configure": g.configure, "write": g.write, "read": g.read})
        for exchange, (write, read) in g.topic.items():
            self._call("PUT", f"topic-permissions/{self._v()}/{quote(user, safe='')}",
                       {"exchange": exchange, "write": write, "read": read})
        return user

    def _grant(self, user: str, g: Grants) -> None:
        self._call("PUT", f"permissions/{self._v()}/{quote(user, safe='')}",
                   {"configure": g.configure, "write": g.write, "read": g.read})
        for exchange, (write, read) in g.topic.items():
            self._call("PUT", f"topic-permissions/{self._v()}/{quote(user, safe='')}",
                       {"exchange": exchange, "write": write, "read": read})

    def create_service(self, service: str, password: str, user: str | None = None) -> str:
        """Create (or reset) ``svc.<service>`` (or ``user``: tests use unique names, users
        are broker-wide) with its grants (:func:`service_grants`), after declaring the
        exchanges (it may not declare them)."""
        user = user or service_user_name(service)
        self.declare_exchanges()
        self.declare_queues(service_queues(service))
        self._call("PUT", f"users/{quote(user, safe='')}",
                   {"password": password, "tags": ",".join(SERVICES[service].tags)})
        self._grant(user, service_grants(service))
        return user

    def rotate(self, department: str, password: str) -> str:
        """New password for an existing user: the user, its tags and grants stay (never a
        delete + create, which would drop the grants and its queues' consumers at once);
        a department that does not exist is an error, not a new account."""
        user = user_name(department)
        try:
            current = self._call("GET", f"users/{quote(user, safe='')}")
        except BusUsersError as exc:
            raise BusUsersError(f"no user {user} to rotate ({exc})") from None
        tags = current.get("tags") or []  # a list since RabbitMQ 3.9, a string before
        self._call("PUT", f"users/{quote(user, safe='')}", {
            "password": password, "tags": ",".join(tags) if isinstance(tags, list) else tags})
        return user

    def revoke(self, department: str) -> str:
        """Delete the user: RabbitMQ closes its open connections and drops its grants."""
        return self.delete_user(user_name(department))

    def close_connections(self, department: str, reason: str = "password rotated") -> int:
        """Close the user's open connections: a new password does not end sessions opened
        with the old one (RabbitMQ only authenticates at connection time)."""
        # /connections/username/<user> reads the broker's connection tracking table, which
        # is current; /connections lags by the statistics interval (5 s by default).
        path = f"connections/username/{quote(user_name(department), safe='')}"
        count = len(self._call("GET", path))
        requests.delete(f"{self.base}/{path}", auth=self.auth, headers={"X-Reason": reason},
                        timeout=TIMEOUT).raise_for_status()
        return count

    def delete_user(self, user: str) -> str:
        self._call("DELETE", f"users/{quote(user, safe='')}")
        return user

    def import_definitions(self, document: dict[str, Any]) -> None:
        """POST a definitions document (what the node does with the file at boot)."""
        self._call("POST", "definitions", document)

    def list(self) -> list[str]:
        return sorted(u["name"] for u in self._call("GET", "users")
                      if u["name"].startswith(USER_PREFIX))


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def definitions(departments: list[str], vhost: str = "/",
                passwords: dict[str, str] | None = None,
                service_passwords: dict[str, str] | None = None) -> dict[str, Any]:
    """Definitions file for rabbitmq.conf: the exchanges and the department users + grants.

    Without ``passwords`` (the committed file) users carry an empty ``password_hash``: such a
    user cannot log in until the operators set a password, so no secret is ever committed.
    RabbitMQ cannot grant permissions to a user that does not exist, which is why the users
    are in the file at all. With ``passwords`` (code -> password, production) the file holds
    salted hashes and must be written outside the repository.
    """
    codes = sorted(set(departments))
    users, permissions, topic = [], [], []
    for code in codes:
        user, g = user_name(code), grants(code)
        secret = (passwords or {}).get(code)
        users.append({"name": user, "password_hash": password_hash(secret) if secret else "",
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
        permissions.append({"user": user, "vhost": vhost, "configure": g.configure,
                            "write": g.write, "read": g.read})
        topic.extend({"user": user, "vhost": vhost, "exchange": exchange, "write": write,
                      "read": read} for exchange, (write, read) in g.topic.items())
    for service in SERVICES:  # the services' own users, locked without a password
        user, g = service_user_name(service), service_grants(service)
        secret = (service_passwords or {}).get(service)
        users.append({"name": user, "password_hash": password_hash(secret) if secret else "",
                      "hashing_algorithm": "rabbit_password_hashing_sha256",
                      "tags": list(SERVICES[service].tags)})
        permissions.append({"user": user, "vhost": vhost, "configure": g.configure,
                            "write": g.write, "read": g.read})
        topic.extend({"user": user, "vhost": vhost, "exchange": exchange, "write": write,
                      "read": read} for exchange, (write, read) in g.topic.items())
    exchanges = [{"name": name, "vhost": vhost, "type": "topic", "durable": True,
                  "auto_delete": False, "internal": False, "arguments": {}}
                 for name in (*EXCHANGES, RPC_EXCHANGE)]
    specs = [spec for service in SERVICES for spec in service_queues(service)]
    specs += [spec for code in codes for spec in department_queues(code)]
    queues = [{"name": spec.name, "vhost": vhost, "durable": True, "auto_delete": False,
               "arguments": spec.arguments} for spec in specs]
    bindings = [{"source": exchange, "vhost": vhost, "destination": spec.name,
                 "destination_type": "queue", "routing_key": key, "arguments": {}}
                for spec in specs for exchange, key in spec.bindings]
    policies = [{"vhost": vhost, "name": DEAD_LETTER_POLICY_NAME, **DEAD_LETTER_POLICY}]
    return {"vhosts": [{"name": vhost}], "users": users, "permissions": permissions,
            "topic_permissions": topic, "exchanges": exchanges, "queues": queues,
            "bindings": bindings, "policies": policies}


def add_platform_user(document: dict[str, Any], name: str, password: str) -> dict[str, Any]:
    """Add gridgov's own administrator user: a node that imports definitions at boot does not
    create its default user (RABBITMQ_DEFAULT_USER), so the file must carry it."""
    vhost = document["vhosts"][0]["name"]
    document["users"].insert(0, {"name": name, "password_hash": password_hash(password),
                                 "hashing_algorithm": "rabbit_password_hashing_sha256",
                                 "tags": ["administrator"]})
    document["permissions"].insert(0, {"user": name, "vhost": vhost, "configure": ".*",
                                       "write": ".*", "read": ".*"})
    return document


def render_definitions(departments: list[str], vhost: str = "/",
                       passwords: dict[str, str] | None = None,
                       platform: tuple[str, str] | None = None,
                       service_passwords: dict[str, str] | None = None) -> str:
    document = definitions(departments, vhost, passwords, service_passwords)
    if platform:
        add_platform_user(document, *platform)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def env_service_passwords(prefix: str) -> dict[str, str]:
    """``<prefix><SERVICE>`` for each of the five services (GRIDGOV_AMQP_PASSWORD_REGISTRY
    …); all must be set."""
    found = {svc: os.environ.get(f"{prefix}{svc.upper()}", "") for svc in SERVICES}
    missing = [f"{prefix}{svc.upper()}" for svc, value in found.items() if not value]
    if missing:
        raise BusUsersError(f"unset password variables: {', '.join(missing)}")
    return found


def env_passwords(departments: list[str], prefix: str) -> dict[str, str]:
    """``<prefix><CODE>`` for every department (e.g. GRIDGOV_BUS_PASSWORD_FIRE); all must be
    set, so that no department is silently left locked out."""
    found = {code: os.environ.get(f"{prefix}{code.upper()}", "") for code in departments}
    missing = [f"{prefix}{code.upper()}" for code, value in found.items() if not value]
    if missing:
        raise BusUsersError(f"unset password variables: {', '.join(missing)}")
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.bus_users",
                                     description="Per-department RabbitMQ users.")
    parser.add_argument("--vhost", default="/", help="vhost (default /)")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create or reset a department user")
    create.add_argument("department")
    create.add_argument("--password-env", metavar="VAR",
                        help="read the password from this environment variable; "
                             "without it one is generated and printed once")
    create.add_argument("--close-connections", action="store_true",
                        help="rotation: also close connections opened with the old password")
    rotate = sub.add_parser("rotate", help="new password for an existing department user "
                            "(grants kept)")
    rotate.add_argument("department")
    rotate.add_argument("--password-env", metavar="VAR",
                        help="read the new password from this environment variable; "
                             "without it one is generated and printed once")
    rotate.add_argument("--close-connections", action="store_true",
                        help="also close connections opened with the old password")
    sub.add_parser("revoke", help="delete a department user").add_argument("department")
    sub.add_parser("list", help="list department users")
    setup = sub.add_parser("setup", help="declare the exchanges, the dead-letter policy and "
                           "the departments' queues (a broker without the definitions file)")
    defs = sub.add_parser("definitions", help="print a definitions file for load_definitions")
    for command in (setup, defs):  # a department added is added, not a replacement
        command.add_argument("departments", nargs="*",
                             help="departments besides the demo district's ten")
        command.add_argument("--only", action="store_true",
                             help="exactly the departments given, not the demo ten too")
    defs.add_argument("--password-env-prefix", metavar="PREFIX",
                      help="hash each department's password from $<PREFIX><CODE> "
                           "(production; never commit the output)")
    defs.add_argument("--service-password-env-prefix", metavar="PREFIX",
                      help="hash each service user's password (svc.<service>) from "
                           "$<PREFIX><SERVICE>, e.g. GRIDGOV_AMQP_PASSWORD_ (never commit "
                           "the output)")
    follow = sub.add_parser("follow", help="provision every department the registry adds "
                            "(bus user and queues), passwords to --secrets-dir")
    follow.add_argument("--secrets-dir", required=True, type=Path,
                        help="where dept.<code>.password files are written (mode 0600)")
    follow.add_argument("--amqp-url", default=os.environ.get(
        "GRIDGOV_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/").replace("pyamqp://",
                                                                          "amqp://"))
    service = sub.add_parser("create-service", help="create or reset a service's own user "
                             "svc.<service> (exchanges must exist: setup)")
    service.add_argument("service", choices=sorted(SERVICES))
    service.add_argument("--password-env", metavar="VAR", required=True,
                         help="read the password from this environment variable")
    defs.add_argument("--apply", action="store_true",
                      help="also import the document into the running broker now "
                           "(GRIDGOV_RABBIT_API), so that the broker and the file never "
                           "differ: a file imported only at the next restart reset every "
                           "password set in between")
    defs.add_argument("--output", metavar="FILE", type=Path,
                      help="write the file here (atomically, mode 0600; with --apply only "
                           "once the broker took it) instead of printing it")
    defs.add_argument("--platform-user", metavar="NAME:VAR",
                      help="also add gridgov's administrator NAME with the password in $VAR "
                           "(needed when the node loads the file at boot)")
    return parser


def _write_private(path: Path, text: str) -> None:
    """``text`` into ``path`` whole or not at all (password hashes: owner-only)."""
    partial = path.with_name(path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _password(var: str | None) -> tuple[str, bool]:
    """Returns (password, generated)."""
    if not var:
        return secrets.token_urlsafe(24), True
    value = os.environ.get(var, "")
    if not value:
        raise BusUsersError(f"environment variable {var} is empty or unset")
    return value, False


def _platform(spec: str) -> tuple[str, str]:
    name, _, var = spec.partition(":")
    if not name or not var:
        raise BusUsersError("--platform-user must be NAME:VAR")
    return name, _password(var)[0]


def _departments(args) -> list[str]:
    """The demo district's ten plus the ones given (each once), or with --only just those."""
    given = list(dict.fromkeys(args.departments))
    return given if args.only else list(dict.fromkeys([*DEMO_DEPARTMENTS, *given]))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("definitions", "setup"):
        args.departments = _departments(args)
    try:
        if args.command == "definitions":
            prefix = args.password_env_prefix
            passwords = env_passwords(args.departments, prefix) if prefix else None
            platform = _platform(args.platform_user) if args.platform_user else None
            service_prefix = args.service_password_env_prefix
            services = env_service_passwords(service_prefix) if service_prefix else None
            text = render_definitions(args.departments, args.vhost, passwords, platform,
                                      services)
            if args.apply:  # the broker first: a refused import leaves the old file
                ManagementApi(vhost=args.vhost).import_definitions(json.loads(text))
            if args.output:
                _write_private(args.output, text)
            else:
                sys.stdout.write(text)
            return 0
        api = ManagementApi(vhost=args.vhost)
        if args.command == "follow":
            from tools import bus_provisioner  # it imports this module
            bus_provisioner.follow(args.amqp_url, api, args.secrets_dir)
            return 0
        if args.command == "list":
            print("\n".join(api.list()))
        elif args.command == "create-service":
            user = api.create_service(args.service, _password(args.password_env)[0])
            print(f"created {user}")
        elif args.command == "setup":
            api.setup(args.departments)
            print(f"declared exchanges, policy {DEAD_LETTER_POLICY_NAME} and the queues of "
                  f"{len(args.departments)} department(s)")
        elif args.command == "revoke":
            print(f"revoked {api.revoke(args.department)}")
        else:
            password, generated = _password(args.password_env)
            if args.command == "rotate":
                user = api.rotate(args.department, password)
                print(f"rotated {user}" + (f" password {password}" if generated else ""))
            else:
                user = api.create(args.department, password)
                print(f"created {user}" + (f" password {password}" if generated else ""))
            if args.close_connections:
                print(f"closed {api.close_connections(args.department)} connection(s)")
        return 0
    except (BusUsersError, ValueError, OSError, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
