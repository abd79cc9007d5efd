"""OpenAPI 3 document generated from a running container's HTTP entrypoints.

The document is built from the same marshmallow schemas and role lists the entrypoints
enforce, so it cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from gridgov_common.platform.web import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, PATH_INT_MAX, Http

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object"},
                       "detail": {"type": "string", "description":
                                  "with Accept-Language zh-CN: the English message as "
                                  "raised (message is then in Chinese)"}},
    }},
}
# GeoReport v2 routes (``….<fmt>``, tag "open311") answer errors in GeoReport's own shape,
# JSON or XML by the format asked (services/events/georeport.py), not in ours
GEOREPORT_TAG = "open311"
GEOREPORT_ERRORS = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["code", "description"],
              "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}},
}
# eventlet's HTTP parser answers a request line over 8 KiB itself, before any route: no body
URI_TOO_LONG = {"description": "request line too long (answered by the HTTP server, no body)"}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_PARAM_TYPES = {"int": "integer", "float": "number"}


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn a werkzeug rule into an OpenAPI path and its path parameters."""
    params = [
        {"name": name, "in": "path", "required": True, "schema": _param_schema(conv)}
        for conv, name in _PARAM.findall(rule)
    ]
    return _PARAM.sub(r"{\2}", rule), params


def _param_schema(converter: str) -> dict[str, Any]:
    if converter == "int":  # gridgov_common.platform.web.BigintConverter: 0 … PostgreSQL's bigint
        return {"type": "integer", "minimum": 0, "maximum": PATH_INT_MAX}
    return {"type": _PARAM_TYPES.get(converter or "", "string")}


def _schema_name(schema: type | Schema) -> str:
    """Component name: the class name without "Schema". apispec passes a class, or an
    instance for ``fields.Nested(SomeSchema(...))``."""
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema") or cls.__name__


def build_openapi(container, title: str, version: str = "1.0.0",
                  description: str = "") -> dict[str, Any]:
    spec = APISpec(title=title, version=version, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
                   info={"description": description})
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    # browsers (issue 12): the registry's /auth/sign-in sets it; a request that changes
    # state with it also sends the gridgov_csrf cookie's value in X-CSRF-Token
    spec.components.security_scheme("cookie", {
        "type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE,
        "description": f"the access cookie of a browser signed in at the registry's "
                       f"/auth/sign-in; POST/PUT/PATCH/DELETE also need the {CSRF_COOKIE} "
                       f"cookie's value in the {CSRF_HEADER} header"})
    entrypoints = sorted((e for e in container.entrypoints if isinstance(e, Http)),
                         key=lambda e: (e.url, e.method))
    paths: dict[str, dict[str, Any]] = {}
    for ep in entrypoints:
        path, params = openapi_path(ep.url)
        for method in ep.method.split(","):
            paths.setdefault(path, {})[method.lower()] = _operation(ep, params)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(ep: Http, params: list[dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": ep.method_name,
        "summary": ep.summary or ep.method_name.replace("_", " "),
        "tags": list(ep.tags),
        "parameters": list(params),
        "responses": _responses(ep),
    }
    if ep.description:
        op["description"] = ep.description
    if ep.query_schema is not None:
        op["parameters"].append({"in": "query", "schema": ep.query_schema})
    if ep.body_schema is not None:
        body_schema = {"type": "array", "items": ep.body_schema} if ep.many else ep.body_schema
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body_schema}}}
    if not ep.public:
        op["security"] = [{"bearer": []}, {"cookie": []}]
        op["x-roles"] = sorted(ep.roles)
    return op


# A server-sent event: its name says what ``data`` (one JSON document) holds
SSE_EVENT = {"type": "object", "required": ["data"], "properties": {
    "event": {"type": "string"}, "data": {"type": "string", "description": "a JSON document"},
    "id": {"type": "string"}, "retry": {"type": "integer"}}}


def _responses(ep: Http) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "success"}
    if ep.response_schema is not None:
        schema: Any = ep.response_schema
        if ep.many:
            schema = {"type": "array", "items": ep.response_schema}
        ok["content"] = {ep.produces: {"schema": schema}}
    elif ep.produces == "text/event-stream":  # one object per event, as OpenAPI 3.2 has it
        ok["content"] = {ep.produces: {"schema": SSE_EVENT}}
    elif ep.produces != "application/json":
        ok["content"] = {ep.produces: {"schema": {"type": "string"}}}
    err = {"description": "error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
    if GEOREPORT_TAG in ep.tags and "<string:fmt>" in ep.url:
        err = {"description": "GeoReport v2 error list", "content": {
            "application/json": {"schema": GEOREPORT_ERRORS},
            "text/xml": {"schema": {"type": "string"}}}}
    responses: dict[str, Any] = {str(ep.success_status): ok, "default": err,
                                 "414": URI_TOO_LONG}
    if not ep.public:
        responses["401"] = err
        responses["403"] = err
    if ep.rate_limit:  # gridgov_common.platform.ratelimit: our error shape, with Retry-After
        responses["429"] = {"description": "rate limited (per process)", "headers": {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if ep.body_schema is not None or ep.query_schema is not None:
        responses["422"] = err
    return responses


def document_for(service_cls, config: dict | None = None) -> dict[str, Any]:
    """The OpenAPI document of a service class, without starting it (for docs and tests)."""
    from nameko.containers import ServiceContainer

    container = ServiceContainer(service_cls, config or {"AMQP_URI": "memory://"})
    return build_openapi(container, service_cls.title, description=service_cls.description)
