"""A small route table: each API operation declared once, with its scope and pydantic models.

The same table registers the Flask views (auth, rate limit, validation,
problem details) and writes the OpenAPI 3.1 document, so what is documented
is what is enforced. Why not a framework (flask-smorest, spectree, apispec):
pydantic alone validates and gives JSON Schema 2020-12, which OpenAPI 3.1
takes as it is; a 150-line table is less to learn than a framework's
conventions and keeps the API on the app's own error handling and limits.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Response, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from ...db.tokens import ApiToken
from .schemas import Problem

PROBLEM_TYPE = "https://digest.example/problems/"  # + kind; stable names a client may switch on
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 413: "Body too large", 415: "Unsupported media type", 422: "Invalid request",
          429: "Too many requests", 500: "Server error", 503: "Busy"}


class ApiProblem(Exception):
    """Raised by a handler: answered as an RFC 9457 problem."""

    def __init__(self, status: int, kind: str, detail: str, *, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.kind, self.detail, self.errors, self.headers = status, kind, detail, errors, headers or {}


def problem_response(status: int, kind: str, detail: str, *, errors: list[dict] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body = Problem(type=PROBLEM_TYPE + kind, title=TITLES.get(status, "Error"), status=status, detail=detail,
                   errors=errors)
    resp = Response(body.model_dump_json(exclude_none=True), status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


@dataclass
class Call:
    """What a handler gets: the token that called, the validated query and body, the path's values."""

    token: ApiToken
    query: Any = None
    body: Any = None
    path: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"api:{self.token.name}"  # the audit trail's "from which door"


@dataclass
class Route:
    method: str
    path: str  # OpenAPI style: /members/{email}
    handler: Callable[[Call], tuple[int, BaseModel | None]]
    scope: str
    summary: str
    ok: tuple[int, type[BaseModel] | None]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    tag: str = "members"
    also: tuple[int, ...] = ()  # other success statuses with the same body (201 for a created member)

    @property
    def flask_path(self) -> str:
        return self.path.replace("{", "<").replace("}", ">")

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


ROUTES: list[Route] = []


def route(method: str, path: str, *, scope: str, ok: tuple[int, type[BaseModel] | None], query=None, body=None,
          tag: str = "members", also: tuple[int, ...] = ()):
    """Declare an operation; the handler's docstring's first line is its summary."""
    def register(handler):
        summary = (handler.__doc__ or handler.__name__).strip().splitlines()[0]
        ROUTES.append(Route(method, path, handler, scope, summary, ok, query, body, tag, also))
        return handler
    return register


def validate(route_: Route) -> tuple[Any, Any]:
    """The query and body of this request, validated; ApiProblem 422 (or 415) otherwise."""
    if route_.query is None and request.args:
        raise ApiProblem(422, "invalid", f"query.{next(iter(request.args))}: this operation takes no query parameters")
    query = _checked("query", lambda: route_.query.model_validate(request.args.to_dict())) if route_.query else None
    body = None
    if route_.body is not None:
        if not (request.mimetype or "").endswith("json"):
            raise ApiProblem(415, "unsupported-media-type", "send the body as application/json")
        body = _checked("body", lambda: route_.body.model_validate_json(request.get_data() or b""))
    return query, body


def _checked(where: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ValidationError as exc:
        errors = [{"loc": ".".join([where, *(str(p) for p in e["loc"])]), "msg": e["msg"]}
                  for e in exc.errors(include_url=False, include_context=False, include_input=False)]
        raise ApiProblem(422, "invalid", f"{errors[0]['loc']}: {errors[0]['msg']}" if errors else where,
                         errors=errors) from None


def encode_cursor(value: str | int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(422, "invalid", "cursor: not a cursor this API gave") from None


# ---------------------------------------------------------------- the OpenAPI document


def openapi(title: str, version: str = "1") -> dict:
    """The OpenAPI 3.1 document of every declared route, from the same models that validate them."""
    models = {m for r in ROUTES for m in (r.query, r.body, r.ok[1]) if m is not None} | {Problem}
    _, defs = models_json_schema([(m, "validation" if m in _inputs() else "serialization") for m in models],
                                 ref_template="#/components/schemas/{model}")
    schemas = defs.get("$defs", {})
    paths: dict[str, dict] = {}
    for r in ROUTES:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Members, the subscribe flow, editions and sources. Errors are RFC 9457 "
                                "problem details; lists are paged with next_cursor."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a token from `digest tokens add`"}}},
        "security": [{"bearer": []}],
    }


def _inputs() -> set:
    return {m for r in ROUTES for m in (r.query, r.body) if m is not None}


def _operation(r: Route, schemas: dict) -> dict:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    status, model = r.ok
    ok = {"description": "done"}
    if model is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}
    responses = {str(code): ok for code in (status, *r.also)}
    for code in (401, 403, 422, 429) + ((404,) if "{" in r.path else ()) + ((409,) if r.method != "GET" else ()):
        responses[str(code)] = {"description": TITLES[code], "content": problem}
    responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    responses["default"] = {"description": "any other problem", "content": problem}
    op: dict[str, Any] = {"operationId": r.operation_id, "summary": r.summary, "tags": [r.tag],
                          "description": f"Scope: `{r.scope}`.", "responses": responses,
                          "parameters": _path_parameters(r) + _query_parameters(r, schemas)}
    if r.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}}}
    return op


def _path_parameters(r: Route) -> list[dict]:
    names = [part[1:-1] for part in r.path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1,
                                                                   "maxLength": 320, "pattern": "^[^/]+$"}}
            for n in names]


def _query_parameters(r: Route, schemas: dict) -> list[dict]:
    if r.query is None:
        return []
    schema = schemas.pop(r.query.__name__, None) or r.query.model_json_schema()
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:  # Optional[X]: a query parameter is absent, never null
            prop.update(branches[0])
        if prop.get("default") is None:
            prop.pop("default", None)
        description = prop.pop("description", None)
        param = {"name": name, "in": "query", "required": False, "schema": prop}
        if description:
            param["description"] = description
        out.append(param)
    return out


def json_response(status: int, model: BaseModel | None) -> Response:
    if model is None:
        return Response(status=status)
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


__all__ = ["ApiProblem", "Call", "ROUTES", "Route", "decode_cursor", "encode_cursor", "json_response", "openapi",
           "problem_response", "route", "validate"]
