"""Declared HTTP endpoints: one declaration gives the aiohttp route, input parsing, auth
and the endpoint's entry in the OpenAPI document, so the document cannot drift."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from classroom.errors import Forbidden, InvalidInput
from classroom.roles import Principal, Role

PRINCIPAL_KEY = web.RequestKey("principal", Principal)
MAX_JSON_BODY = 64 * 1024
MAX_TEXT_PARAM = 256
MAX_INT = 2**31 - 1
API_KEY_HEADER = "X-Api-Key"


class ErrorDetail(msgspec.Struct, frozen=True):
    code: str
    message: str


class ErrorResponse(msgspec.Struct, frozen=True):
    """Every refusal has this shape: a stable code and a human message."""

    error: ErrorDetail


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    kind: type[Any]
    description: str
    required: bool = False


@dataclass(slots=True)
class Endpoint:
    method: str
    path: str
    summary: str
    response: type[Any]
    handle: Callable[..., Awaitable[Any]]
    body: type[Any] | None = None
    query: tuple[QueryParam, ...] = ()
    path_params: tuple[QueryParam, ...] = ()
    auth: bool = True
    api_key: bool = False
    content_type: str = "application/json"
    errors: dict[int, str] = field(default_factory=dict)
    tag: str = "school"
    panel: bool = False  # classroom panels may call it (they are refused everywhere else)
    raw_body: str | None = None  # a body the handler reads itself (an upload): its media type


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(value),
        status=status,
        content_type="application/json",
    )


def _parse_query(endpoint: Endpoint, request: web.Request) -> dict[str, Any]:
    values = _parse_params(endpoint.path_params, request.match_info)
    values.update(_parse_params(endpoint.query, request.query))
    return values


def _parse_params(params: tuple[QueryParam, ...], source: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in params:
        raw = source.get(param.name)
        if raw is None or raw == "":
            if param.required:
                raise InvalidInput(
                    f"the query parameter {param.name!r} is required", code="missing_parameter"
                )
            values[param.name] = None
            continue
        if param.kind is dt.date:
            try:
                values[param.name] = dt.date.fromisoformat(raw)
            except ValueError:
                raise InvalidInput(
                    f"{param.name!r} must be a date like 2026-09-01", code="bad_parameter"
                ) from None
        elif param.kind is bool:
            if raw not in ("true", "false", "1", "0"):
                raise InvalidInput(f"{param.name!r} must be true or false", code="bad_parameter")
            values[param.name] = raw in ("true", "1")
        elif param.kind is int:
            # Ids are 32-bit columns: a larger number is refused here, not by the database.
            if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_INT:
                raise InvalidInput(
                    f"{param.name!r} must be an integer from 0 to {MAX_INT}", code="bad_parameter"
                )
            values[param.name] = int(raw)
        else:
            if len(raw) > MAX_TEXT_PARAM:
                raise InvalidInput(f"{param.name!r} is too long", code="bad_parameter")
            values[param.name] = raw
    return values


async def _parse_body(endpoint: Endpoint, request: web.Request) -> Any:
    assert endpoint.body is not None
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        raise InvalidInput("the request body is too large", code="body_too_large")
    raw = await request.content.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise InvalidInput("the request body is too large", code="body_too_large")
    if not raw:
        raise InvalidInput("a JSON body is required", code="missing_body")
    try:
        return msgspec.json.decode(raw, type=endpoint.body)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid request: {exc}", code="invalid_body") from None
    except msgspec.DecodeError:
        raise InvalidInput("the body is not valid JSON", code="malformed_json") from None


Authenticate = Callable[[web.Request], Awaitable[Principal]]


def make_handler(
    endpoint: Endpoint, authenticate: Authenticate
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler: authenticate, parse query and body, call, encode."""

    async def handler(request: web.Request) -> web.StreamResponse:
        kwargs = _parse_query(endpoint, request)
        if endpoint.auth:
            principal = request[PRINCIPAL_KEY] = await authenticate(request)
            if principal.role is Role.PANEL and not endpoint.panel:
                raise Forbidden("a classroom panel shows the board only", code="panel_board_only")
        if endpoint.body is not None:
            kwargs["body"] = await _parse_body(endpoint, request)
        result = await endpoint.handle(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result)

    return handler


def openapi_document(endpoints: list[Endpoint], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing every declared endpoint."""
    types: list[Any] = [ErrorResponse]
    for endpoint in endpoints:
        types.append(endpoint.response)
        if endpoint.body is not None:
            types.append(endpoint.body)
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    schema_of = dict(zip(map(id, types), schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        slug = endpoint.path.strip("/").replace("/", "_").replace(".", "_")
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "operationId": f"{endpoint.method.lower()}_{slug}",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        endpoint.content_type: {"schema": schema_of[id(endpoint.response)]}
                    },
                }
            },
        }
        errors = dict(endpoint.errors)
        if endpoint.auth:
            operation["security"] = [{"bearer": []}]
            errors.setdefault(401, "missing, expired or invalid access token")
        if endpoint.api_key:
            operation["security"] = [{"integrationKey": []}]
            errors.setdefault(401, f"missing or wrong {API_KEY_HEADER}")
        if endpoint.body is not None or endpoint.raw_body or endpoint.query or endpoint.path_params:
            errors.setdefault(400, "invalid input")
        for status, description in sorted(errors.items()):
            operation["responses"][str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": schema_of[id(ErrorResponse)]}},
            }
        parameters = [
            {
                "name": param.name,
                "in": location,
                "required": param.required or location == "path",
                "description": param.description,
                "schema": _param_schema(param.kind),
            }
            for location, params in (("path", endpoint.path_params), ("query", endpoint.query))
            for param in params
        ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[id(endpoint.body)]}},
            }
        if endpoint.raw_body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {endpoint.raw_body: {"schema": {"type": "string", "format": "binary"}}},
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "urok",
            "version": version,
            "description": "The HTTP API of urok, a real-time classroom server.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "integrationKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
            },
        },
    }


def _param_schema(kind: type[Any]) -> dict[str, Any]:
    if kind is bytes:
        return {"type": "string", "format": "binary"}
    if kind is bool:
        return {"type": "boolean"}
    if kind is dt.date:
        return {"type": "string", "format": "date"}
    if kind is int:
        return {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    return {"type": "string"}
