"""The HTTP entrypoint every gridgov service uses.

``@http("POST", "/grids", roles=..., body=GridSchema, response=..., summary=...)``
adds what stock nameko lacks: bearer-token auth with roles, request size limits,
marshmallow validation of body and query, one JSON error shape for every failure
(including 404/405 from routing), the DB commit before the response is sent, metrics,
and the metadata the OpenAPI document is generated from.

The decorated method receives the werkzeug request with ``request.principal`` (or
None on public routes), ``request.data`` (validated body) and ``request.params``
(validated query), plus the URL's path values as keyword arguments.  It returns a
dict/list (200), ``(status, payload)``, or a werkzeug ``Response``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from datetime import date, datetime
from datetime import time as dt_time
from functools import partial
from typing import Any

import eventlet
from eventlet.event import Event
from marshmallow import Schema, ValidationError
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Request, Response

from gridgov_common.kernel import error_text, errors, storable
from gridgov_common.kernel.auth import check_secret, principal_from_header, require, verify
from gridgov_common.kernel.roles import ALL_ROLES, Role
from gridgov_common.platform import ratelimit
from gridgov_common.platform.db import finish_worker_transactions
from gridgov_common.platform.messaging import BROKER_DOWN
from gridgov_common.platform.metrics import HTTP_REQUESTS, HTTP_SECONDS
from gridgov_common.platform.settings import POSITIVE_INTEGER, SECRET, Setting

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024  # 1 MiB; photo uploads set their own limit


def _check_secret(key: str, secret: str) -> None:
    check_secret(secret)


JWT_SECRET = Setting("JWT_SECRET", SECRET, None, "signs and verifies access tokens; from "
                     "the environment, never stored", required=True, check=_check_secret)
JWT_PREVIOUS_SECRET = Setting("JWT_PREVIOUS_SECRET", SECRET, None,
                              "the previous signing secret, still accepted while keys rotate "
                              "(deploy/README.md)", check=_check_secret)
MAX_BODY_BYTES = Setting("MAX_BODY_BYTES", POSITIVE_INTEGER, DEFAULT_MAX_BODY,
                         "largest request body of a route without its own limit")
PATH_INT_MAX = 2**63 - 1  # PostgreSQL bigint: no id is larger
JSON = "application/json"
# No request body of any route nests deeper (GeoJSON imports: ~8). Deeper documents are
# refused before anything recursive (marshmallow, storable) walks them; without the bound,
# 1,000 levels raised RecursionError and the caller got a 500 (issue 10).
MAX_JSON_DEPTH = 64
# Query parameters that never belong in a URL: a bearer token in one lands in every access
# log and browser history on the way (issue 10). Refused with 400 ``credential_in_url``.
CREDENTIAL_PARAMS = frozenset({"token", "access_token", "jwt", "bearer"})
# Browser sessions (issue 12; docs/SECURITY.md "Sign-in and sessions"): the registry's
# /auth/sign-in sets the short-lived access token as an HttpOnly cookie every service reads
# when a request has no Authorization header; a request that changes state with it must
# echo the (page-readable) CSRF cookie in the X-CSRF-Token header (double submit).
ACCESS_COOKIE = "gridgov_access"
REFRESH_COOKIE = "gridgov_refresh"
CSRF_COOKIE = "gridgov_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# HTML documents (case file, notice board, circulars, reports): no script at all, styles
# only from the document's own <style> blocks (by hash), nothing loaded from elsewhere.
# The dashboard, which runs its own scripts, sets its stricter-than-default app policy
# itself (services/assessment/dashboard/page.py); this helper keeps a policy already set.
HTML_DOCUMENT_CSP = ("default-src 'none'; img-src 'self' data:; style-src {styles}; "
                     "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
_STYLE_BLOCK = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


def _json_default(value: Any) -> str:
    """RFC 3339 for instants (what the OpenAPI documents promise: ``str`` of a datetime has
    a space where ``date-time`` needs a ``T``); ``str`` for the rest (UUID, Decimal…)."""
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    return str(value)


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, default=_json_default)
    return Response(body, status=status, headers=headers, content_type=f"{JSON}; charset=utf-8")


def _style_sources(body: bytes) -> str:
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode()
                     + "'" for block in _STYLE_BLOCK.findall(body)})
    return " ".join(hashes) or "'none'"


def add_html_security_headers(response: Response) -> Response:
    """Every HTML answer gets a Content-Security-Policy, ``nosniff``, no referrer and no
    caching; every other answer gets ``nosniff``. Applied by :class:`Http` to every
    response, so no route can forget it (issue 10: the case file, the notice board and the
    circulars had none). A policy the route set itself (the dashboard's) is kept."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype != "text/html":
        return response
    if "Content-Security-Policy" not in response.headers:
        styles = _style_sources(response.get_data())
        response.headers["Content-Security-Policy"] = HTML_DOCUMENT_CSP.format(styles=styles)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def json_depth(document: Any) -> int:
    """How deep ``document`` nests (a scalar: 0), without recursion."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((item, depth + 1) for item in value)
    return deepest


def check_path_values(values: dict[str, Any]) -> None:
    """A path value with NUL or an unpaired surrogate (``/grids/%00/notice-board``) names
    nothing: 404, here for every route, before a handler hands it to the database (which
    refused it with a 500; issue 10)."""
    found = storable.problems(values)
    if found:
        raise errors.NotFound("no such resource: invalid characters in the path",
                              fields=found)


def check_no_credential_in_query(request) -> None:
    """400 ``credential_in_url`` for ``?token=…`` and its kind (see CREDENTIAL_PARAMS)."""
    named = sorted(CREDENTIAL_PARAMS.intersection(request.args.keys()))
    if named:
        raise errors.BadRequest(
            "credentials are never taken in the URL (access logs and history keep them): "
            "send 'Authorization: Bearer <token>'; the dashboard has a sign-in form",
            fields={name: ["not allowed in the URL"] for name in named},
            code="credential_in_url")


def check_csrf(request) -> None:
    """403 ``csrf_failed`` unless the ``X-CSRF-Token`` header equals the CSRF cookie
    (compared in constant time). A page of another site can make the browser send the
    cookies, but can neither read the CSRF cookie nor set a header on a cross-site form."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise errors.Forbidden(
            f"a request signed in by cookie that changes something must send the "
            f"{CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header", code="csrf_failed")


def error_response(exc: errors.ApiError, request=None) -> Response:
    """The JSON error shape; in Chinese when ``request`` asks for it (error_text)."""
    payload = exc.to_dict()
    if request is not None and error_text.wants_chinese(request.headers.get("Accept-Language")):
        payload = error_text.localize(payload, exc.status)
    return json_response(payload, status=exc.status, headers=getattr(exc, "headers", None))


def storable_or_422(data: Any, where: str) -> Any:
    """NUL, unpaired surrogates, ints beyond bigint, years outside 1900-2999: a 422 here,
    not a 500 from the database later (gridgov_common.kernel.storable; found by fuzzing)."""
    found = storable.problems(data)
    if found:
        raise errors.Unprocessable(f"invalid {where}", fields=found)
    return data


def validation_error(exc: ValidationError, where: str) -> errors.Unprocessable:
    fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return errors.Unprocessable(f"invalid {where}", fields=fields)


class JsonWsgiApp:
    """Like nameko's WsgiApp, but routing failures answer in the JSON error shape."""

    def __init__(self, server: JsonWebServer) -> None:
        self.url_map = server.make_url_map()

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            if exc.code == 404:
                response = error_response(errors.NotFound(f"no route {request.path}"), request)
            elif exc.code == 405:
                response = error_response(errors.MethodNotAllowed(
                    f"{request.method} not allowed on {request.path}"), request)
            else:  # a redirect (merged slashes): werkzeug's own answer
                response = exc.get_response(environ)
        return add_html_security_headers(response)(environ, start_response)


class BigintConverter(IntegerConverter):
    """``<int:…>`` path values up to PostgreSQL's bigint: a larger one names nothing, so
    the route does not match (404) instead of the database refusing it (a 500, found by
    fuzzing). Handlers of int4 columns check their own smaller bound."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", PATH_INT_MAX)
        super().__init__(url_map, *args, **kwargs)


class JsonWebServer(WebServer):
    def start(self):
        """nameko's start, but the port is this server's alone. eventlet listens with
        SO_REUSEPORT by default: a second server given the same port (another service or
        a replica started with a wrong address) would start too, and the kernel would split
        the connections between them, the wrong one answering 404 to half the requests.
        Now the second one fails to start (EADDRINUSE), which says what is wrong."""
        if self._starting:
            return
        self._starting = True
        self._sock = eventlet.listen(self.bind_addr, reuse_port=False)
        self._sock.settimeout(None)  # as nameko: https://github.com/celery/kombu/issues/838
        self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
        self._gt = self.container.spawn_managed_thread(self.run)

    def get_wsgi_app(self):
        return JsonWsgiApp(self)

    def make_url_map(self):
        url_map = Map(strict_slashes=False, converters={"int": BigintConverter})
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map


class Http(HttpRequestHandler):
    """See the module docstring."""

    server = JsonWebServer()

    def __init__(self, method: str, url: str, *, roles: frozenset[Role] | set[Role] | None = None,
                 public: bool = False, body: type[Schema] | None = None,
                 query: type[Schema] | None = None, response: type[Schema] | None = None,
                 many: bool = False, summary: str = "", description: str = "",
                 tags: tuple[str, ...] = (), max_body: int | None = None,
                 produces: str = JSON, status: int = 200, rate_limit: str | None = None,
                 **kwargs) -> None:
        # caller errors are logged as warnings, not as tracebacks of a failing service
        kwargs.setdefault("expected_exceptions", (errors.ApiError, ValidationError))
        super().__init__(method, url, **kwargs)
        if public and roles:
            raise ValueError("a public route has no roles")
        self.roles = frozenset() if public else frozenset(roles or ALL_ROLES)
        self.public = public
        self.body_schema = body
        self.query_schema = query
        self.response_schema = response
        self.many = many
        self.summary = summary
        self.description = description
        self.tags = tags
        self.max_body = max_body
        self.produces = produces
        self.success_status = status
        self.rate_limit = rate_limit  # a group of gridgov_common.platform.ratelimit.DEFAULTS
        self.bucket: ratelimit.TokenBucket | None = None
        self.trusted_proxies: ratelimit.Networks = ()
        self.secret: str = ""
        self.previous_secret: str | None = None
        self.max_body_bytes = DEFAULT_MAX_BODY

    def setup(self) -> None:
        """Fail at start, not at the first request: a guarded route needs the signing
        secret from the environment, and a rate limit needs a sane config."""
        super().setup()
        if not self.public:
            self.secret = JWT_SECRET.of(self.container)
            self.previous_secret = JWT_PREVIOUS_SECRET.of(self.container)  # rotation overlap
        self.max_body_bytes = MAX_BODY_BYTES.of(self.container)
        if self.rate_limit:
            self.bucket = ratelimit.bucket_of(self.container.config,
                                              *ratelimit.LIMITS[self.rate_limit])
            self.trusted_proxies = ratelimit.TRUSTED_PROXIES.of(self.container)

    # -- request handling ---------------------------------------------------------------

    def handle_request(self, request):
        request.shallow = False
        started = time.perf_counter()
        try:
            self._prepare(request)
            args, kwargs = self.get_entrypoint_parameters(request)
            event = Event()
            self.container.spawn_worker(
                self, args, kwargs, context_data={},
                handle_result=partial(self.handle_result, event))
            response = self.response_from_result(event.wait())
        except Exception as exc:  # every failure becomes the JSON error shape
            response = self.response_from_exception(exc, request)
        add_html_security_headers(response)
        self._observe(request, response, started)
        return response

    def _prepare(self, request) -> None:
        check_no_credential_in_query(request)
        request.principal = None if self.public else self._authenticate(request)
        check_path_values(getattr(request, "path_values", None) or {})
        if self.bucket is not None:  # before the body is read: heavy uploads cost nothing
            ratelimit.check(self.bucket, request, request.principal,
                            self.container.service_name, self.url, self.rate_limit,
                            self.trusted_proxies)
        request.params = self._load_query(request)
        request.data = self._load_body(request)

    def _authenticate(self, request):
        """The bearer token of the Authorization header (machines, scripts: unchanged), or,
        without that header, the browser's access cookie, with the CSRF check on every
        request that may change state."""
        secret, previous = self.secret, self.previous_secret
        header = request.headers.get("Authorization")
        cookie = request.cookies.get(ACCESS_COOKIE)
        if header is None and cookie:
            principal = verify(secret, cookie, previous)
            if request.method not in SAFE_METHODS:
                check_csrf(request)
            request.auth_by = "cookie"
        else:
            principal = principal_from_header(secret, header, previous)
            request.auth_by = "bearer"
        require(principal, self.roles)
        return principal

    def _load_query(self, request) -> dict:
        if self.query_schema is None:
            return storable_or_422(dict(request.args), "query parameters")
        try:
            params = self.query_schema().load(request.args.to_dict(flat=True))
        except ValidationError as exc:
            raise validation_error(exc, "query parameters") from None
        return storable_or_422(params, "query parameters")

    def _body_limit(self) -> int:
        if self.max_body is not None:
            return self.max_body
        return self.max_body_bytes

    def _load_body(self, request) -> Any:
        """Read the body within the size limit; parse and validate it if a schema is set.

        Routes without a body schema (CSV uploads) find the bytes in ``request.raw_body``.
        """
        request.raw_body = self._read_body(request)
        if self.body_schema is None:
            return None
        if not (request.mimetype or "").endswith("json"):
            raise errors.UnsupportedMediaType("send the body as application/json")
        try:
            document = json.loads(request.raw_body or b"null")
        except ValueError as exc:
            raise errors.BadRequest(f"body is not valid JSON: {exc}",
                                    code="malformed_json") from None
        except RecursionError:
            document = None  # deeper than the parser goes: refused just below
            depth = MAX_JSON_DEPTH + 1
        else:
            depth = json_depth(document)
        if depth > MAX_JSON_DEPTH:
            raise errors.BadRequest(f"body nests deeper than {MAX_JSON_DEPTH} levels",
                                    code="json_too_deep")
        try:
            data = self.body_schema().load(document, many=self.many)
        except ValidationError as exc:
            raise validation_error(exc, "request body") from None
        return storable_or_422(data, "request body")

    def _read_body(self, request) -> bytes:
        limit = self._body_limit()
        if request.content_length is not None and request.content_length > limit:
            raise errors.PayloadTooLarge(f"body larger than {limit} bytes")
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            raise errors.PayloadTooLarge(f"body larger than {limit} bytes")
        return raw

    def handle_result(self, event, worker_ctx, result, exc_info):
        if exc_info is None:
            failure = finish_worker_transactions(worker_ctx)
            if failure is not None:
                log.error("commit failed on %s: %s", self.url, failure)
                exc_info = (type(failure), failure, failure.__traceback__)
                result = None
        event.send(result, exc_info)
        return result, exc_info

    # -- responses ------------------------------------------------------------------------

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, headers = self.success_status, None
        if isinstance(result, tuple):
            if len(result) == 3:
                status, headers, result = result
            else:
                status, result = result
        if isinstance(result, str):
            return Response(result, status=status, headers=headers, content_type=self.produces)
        return json_response(result, status=status, headers=headers)

    def response_from_exception(self, exc, request=None):
        if isinstance(exc, errors.ApiError):
            return error_response(exc, request)
        if isinstance(exc, ValidationError):
            return error_response(validation_error(exc, "input"), request)
        if isinstance(exc, RemoteError):
            log.warning("upstream service failed: %s", exc)
            return error_response(errors.BadGateway("an upstream service failed"), request)
        unavailable = _unavailable(exc)
        if unavailable is not None:  # down for now: 503 with Retry-After, never a 500
            log.warning("%s on %s %s: %s", unavailable.code, self.method, self.url, exc)
            return error_response(unavailable, request)
        log.exception("unhandled error on %s %s", self.method, self.url, exc_info=exc)
        internal = errors.ApiError("internal error", code="internal_error")
        internal.status = 500
        return error_response(internal, request)

    def _observe(self, request, response, started: float) -> None:
        service = self.container.service_name
        HTTP_REQUESTS.labels(service, self.url, request.method, str(response.status_code)).inc()
        HTTP_SECONDS.labels(service, self.url, request.method).observe(
            time.perf_counter() - started)


def _unavailable(exc: BaseException) -> errors.ServiceUnavailable | None:
    """The 503 for a failure that passes (issue 15.5): the database unreachable, busy or
    restarting (an OperationalError: connection lost, deadlock, shutdown; or no pooled
    connection free in time), or the broker unreachable while a route publishes."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError):  # TimeoutError: pool
        return errors.ServiceUnavailable("the database is unavailable or busy, try again",
                                         code="database_unavailable")
    if isinstance(exc, BROKER_DOWN):
        return errors.ServiceUnavailable("the message broker is unreachable, try again",
                                         code="broker_unavailable")
    return None


http = Http.decorator
