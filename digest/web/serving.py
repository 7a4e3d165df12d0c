"""waitress, set up for the open internet: small bodies, idle connections dropped, room for many.

    server = make_server(create_app(settings, db), host="127.0.0.1", port=8000)
    server.run()

What the settings guarantee (README, "Security"):
- a request body larger than MAX_BODY (64 KiB; the largest form is a few
  hundred bytes) is refused with 413 while it is read; a declared larger
  Content-Length is answered 413 before any of the body is read;
- a connection that sends nothing for CHANNEL_TIMEOUT seconds is closed
  (checked every CLEANUP_INTERVAL seconds), so half-open connections cost
  little and do not last;
- up to CONNECTION_LIMIT connections are open at once (poll(), not select(),
  so file descriptors above 1024 work); past that new clients wait.
For the public internet, a reverse proxy (nginx, Caddy) in front buffers
slow clients, terminates TLS and limits connections per client address.
"""

from __future__ import annotations

from . import MAX_BODY

CONNECTION_LIMIT = 500
CHANNEL_TIMEOUT = 20  # seconds a connection may stay silent
CLEANUP_INTERVAL = 5  # seconds between checks for silent connections
MAX_HEADER = 16 * 1024  # request line and headers

SERVER_OPTIONS = {
    # waitress refuses a body of max_request_body_size bytes or more; Flask refuses more than MAX_BODY.
    "max_request_body_size": MAX_BODY + 1,
    "max_request_header_size": MAX_HEADER,
    "connection_limit": CONNECTION_LIMIT,
    "channel_timeout": CHANNEL_TIMEOUT,
    "cleanup_interval": CLEANUP_INTERVAL,
    "asyncore_use_poll": True,
    "ident": "digest",
}


def make_server(wsgi, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 4,
                trusted_proxy: str | None = None, **overrides):
    """A waitress server for the app, not yet running (call .run()); overrides are waitress options."""
    from waitress import create_server

    options = {**SERVER_OPTIONS, "host": host, "port": port, "threads": threads, **overrides}
    if trusted_proxy:
        options.update(trusted_proxy=trusted_proxy, trusted_proxy_count=1,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"})
    return create_server(wsgi, **options)
