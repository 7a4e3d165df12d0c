"""A real HTTP server on 127.0.0.1 that serves feeds the way real sites do (and misbehave).

    with FeedServer() as web:                      # or the feed_server fixture
        web.serve("/feed.xml", rss_bytes, etag='"v1"')            # 304 to If-None-Match "v1"
        web.redirect("/old.xml", "/feed.xml", status=301)
        web.drip("/slow.xml", every=0.5)          # headers, then one byte every 0.5 s
        web.serve("/bomb.xml", gzip_bytes, headers={"Content-Encoding": "gzip"})
        web.url("/feed.xml"); web.requests         # [(path, headers), ...]

http.server in a thread of its own; paths not served answer 404.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class _Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None
    drip: float | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def do_GET(self) -> None:
        web = self.server.web
        with web.lock:
            web.requests.append((self.path, dict(self.headers.items())))
            route = web.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        if route.location is not None:
            self.send_response(route.status)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        validators = {"ETag": route.etag, "Last-Modified": route.last_modified}
        if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                route.last_modified and not route.etag and self.headers.get("If-Modified-Since") == route.last_modified):
            self.send_response(304)
            for name, value in validators.items():
                if value:
                    self.send_header(name, value)
            self.end_headers()
            return
        self.send_response(route.status)
        for name, value in {**route.headers, **validators}.items():
            if value:
                self.send_header(name, value)
        if route.drip is not None:
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                while not web.stopping.is_set():
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(route.drip)
            except OSError:  # the client gave up
                pass
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    web: "FeedServer"


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "FeedServer":
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.web = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def __enter__(self) -> "FeedServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes, *, content_type: str = "application/rss+xml; charset=utf-8",
              etag: str | None = None, last_modified: str | None = None, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.routes[path] = _Route(status, body, {"Content-Type": content_type, **(headers or {})}, etag,
                                       last_modified)

    def redirect(self, path: str, to: str, *, status: int = 301) -> None:
        with self.lock:
            self.routes[path] = _Route(status, location=to)

    def drip(self, path: str, *, every: float) -> None:
        with self.lock:
            self.routes[path] = _Route(200, headers={"Content-Type": "application/rss+xml"}, drip=every)

    def gone(self, path: str) -> None:
        with self.lock:
            self.routes.pop(path, None)

    def requests_for(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [h for p, h in self.requests if p == path]


def rss(*items: tuple[str, str, str], title: str = "Example news", link: str = "https://www.example.org/") -> bytes:
    """An RSS 2.0 feed of (title, link, RFC 822 date) items."""
    body = "".join(
        f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid><pubDate>{d}</pubDate>"
        f"<description>{t}: what members need to know about data protection and cyber security.</description></item>"
        for t, u, d in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{link}</link><description>News</description>{body}</channel></rss>").encode()


try:
    import pytest
except ImportError:  # pragma: no cover
    pass
else:

    @pytest.fixture
    def feed_server():
        """A running FeedServer on 127.0.0.1, stopped after the test."""
        with FeedServer() as web:
            yield web
