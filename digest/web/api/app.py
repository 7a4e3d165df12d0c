"""The API wired into the app: the route table's views, each behind its token, scope and rate limit."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, request

from ...config import web_option
from ...errors import DatabaseBusyError, DatabaseError, DigestError
from ...membership.tokens import check
from ..common import RateLimiter, WebState
from . import editions, members  # noqa: F401  (their routes join the table)
from .routing import ROUTES, ApiProblem, Call, Route, json_response, openapi, problem_response, validate

log = logging.getLogger("digest.api")
PREFIX = "/api/v1"
RETRY_AFTER_BUSY = 30


def register(app: Flask, state: WebState) -> None:
    limiter = RateLimiter(web_option(state.settings, "api_limit", 600, 1, 1_000_000),
                          web_option(state.settings, "api_window", 60, 1, 86_400))
    document = openapi(f"{state.settings.organisation} digest API")

    @app.get(PREFIX + "/openapi.json")
    def api_openapi() -> Response:
        resp = json_response(200, None)
        resp.set_data(json.dumps(document, indent=1))
        resp.mimetype = "application/json"
        return resp

    for r in ROUTES:
        app.add_url_rule(PREFIX + r.flask_path, endpoint="api." + r.operation_id, view_func=_view(r, state, limiter),
                         methods=[r.method])


def _view(r: Route, state: WebState, limiter: RateLimiter):
    def view(**path: str) -> Response:
        try:
            token = _authorise(r, state)
            wait = limiter.hit(token.name)
            if wait:
                raise ApiProblem(429, "rate-limited", f"more than the token's limit of requests; retry in "
                                 f"{int(wait + 0.999)} s", headers={"Retry-After": str(int(wait + 0.999))})
            query, body = validate(r)
            status, model = r.handler(Call(token, query, body, path))
            return json_response(status, model)
        except ApiProblem as exc:
            return problem_response(exc.status, exc.kind, exc.detail, errors=exc.errors, headers=exc.headers)
        except DatabaseBusyError as exc:
            log.warning("%s %s: %s", request.method, request.path, exc)
            return problem_response(503, "busy", "the database is busy; try again",
                                    headers={"Retry-After": str(RETRY_AFTER_BUSY)})
        except DatabaseError:
            raise  # the app's handler: one log line, 500
        except DigestError as exc:
            return problem_response(422, "invalid", str(exc))

    view.__name__ = "api_" + r.operation_id
    return view


def _authorise(r: Route, state: WebState):
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="digest"'}
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiProblem(401, "unauthorized", "send Authorization: Bearer TOKEN (a token from `digest tokens add`)",
                         headers=challenge)
    token = check(state.db, value.strip(), now=state.now())
    if token is None:
        raise ApiProblem(401, "unauthorized", "the token is not valid (revoked, or never issued)",
                         headers={"WWW-Authenticate": 'Bearer realm="digest", error="invalid_token"'})
    if r.scope not in token.scopes:
        raise ApiProblem(403, "forbidden", f"the token {token.name!r} lacks the scope {r.scope}",
                         headers={"WWW-Authenticate": f'Bearer realm="digest", error="insufficient_scope", '
                                                      f'scope="{r.scope}"'})
    return token


def is_api(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")
