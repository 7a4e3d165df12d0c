"""The HTTP API under /api/v1/: members, the subscribe flow, editions, sources (README, "For the integrator").

    register(app, state)      # called by create_app; every route of the table in routing.py
    GET /api/v1/openapi.json  # the OpenAPI 3.1 document, made from the same models that validate requests

Every request: a Bearer token (401 without a valid one, 403 without the
operation's scope), a rate limit per token (429 with Retry-After), the query
and body validated (422), then one call into the same functions the CLI and
the pages use. Errors are RFC 9457 problem details (application/problem+json).
"""

from .app import PREFIX, is_api, register
from .routing import problem_response

__all__ = ["PREFIX", "is_api", "problem_response", "register"]
