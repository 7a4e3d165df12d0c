"""Mail providers' webhooks: POST /hooks/ses, /hooks/postmark, /hooks/mailgun, /hooks/sendgrid.

Each is on only when its [providers.NAME] section is in digest.toml (else
404). A request is verified first, by the provider's own means, before
anything in it is believed (digest.bounces.providers); a request that fails
is answered 401/403 with one log line and changes nothing. A verified
request's events are recorded in one short transaction and answered at once
(the providers wait seconds, and retry what they do not see answered 2xx);
the app's worker thread then acts on each in a transaction of its own
(digest.bounces.feedback). Events a stopped server left are taken when
`digest serve` starts again.

    POST /hooks/ses                  SNS: SubscriptionConfirmation (confirmed for our topic only), Notification
    POST /hooks/postmark[/SECRET]    basic authentication and/or the secret path
    POST /hooks/mailgun              HMAC of timestamp + token; each token once
    POST /hooks/sendgrid             ECDSA over timestamp + body; a batch of events
"""

from __future__ import annotations

import logging
from typing import Callable

from flask import Blueprint, Flask, abort, current_app, jsonify, request

from ..bounces.feedback import Feedback
from ..bounces.providers import ProviderEvent, Skipped
from ..bounces.providers.mailgun import parse_mailgun, verify_mailgun
from ..bounces.providers.postmark import parse_postmark, verify_postmark
from ..bounces.providers.sendgrid import SIGNATURE, TIMESTAMP, load_public_key, parse_sendgrid, verify_sendgrid
from ..bounces.providers.ses import CertificateCache, parse_ses, subscribe_url, verify_sns
from ..config import Settings
from ..errors import WebhookError
from ..outbound import Outbound, OutboundError, for_settings
from .common import WebState
from .mailer import Mailer

log = logging.getLogger("digest.web.hooks")
bp = Blueprint("hooks", __name__)
MAX_HOOK_BODY = 2 * 1024 * 1024  # a SendGrid batch is up to about 768 KB
FETCH_DEADLINE = 5.0  # seconds for the SNS certificate or confirmation: the provider is waiting
MAX_FETCH = 64 * 1024


class Hooks:
    """What the webhook views share: the providers' settings and keys, the SNS certificates, the taker."""

    def __init__(self, state: WebState, fetch: Callable[[str], bytes] | None = None):
        self.providers = state.settings.providers
        self.clock = state.clock
        self.feedback = Feedback(state.db, state.settings, clock=state.clock)
        # GET an https URL, the body back: the SNS certificate, its subscription confirmation.
        self.fetch = fetch or outbound_get(for_settings(state.settings, read_timeout=FETCH_DEADLINE))
        self.certificates = CertificateCache(self.fetch)
        sendgrid = self.providers.sendgrid
        self.sendgrid_key = load_public_key(sendgrid.public_key, state.settings.source) if sendgrid else None
        self.worker: HookWorker | None = None  # set by register()

    def record(self, provider: str, events: list[ProviderEvent], skipped: list[Skipped] = (), *,
               once: str | None = None):
        """Record the events (one short transaction) and answer; the worker acts on them afterwards."""
        recorded, before = self.feedback.record(provider, events, once=once)
        for s in skipped:
            log.warning("%s webhook: event %d of the batch skipped: %s", provider, s.position, s.reason)
        self.worker.notify()
        return jsonify({"recorded": recorded, "sent_before": before,
                        "skipped": [{"position": s.position, "reason": s.reason} for s in skipped]})


class HookWorker(Mailer):
    """The app's worker for providers' events: acts on each recorded event after its webhook was answered."""

    what = "provider events"

    def __init__(self, app: Flask, feedback: Feedback):
        super().__init__(app, handle=None)
        self.feedback = feedback

    def run_once(self) -> int:
        return len(self.feedback.take_all())


def outbound_get(client: Outbound) -> Callable[[str], bytes]:
    """GET an https URL through the one outbound client (no redirects, a short deadline), its body back."""

    def get(url: str) -> bytes:
        response = client.request("GET", url, deadline=FETCH_DEADLINE, max_bytes=MAX_FETCH, https_only=True,
                                  follow_redirects=False)
        if response.status != 200:
            raise OutboundError(url, f"answered {response.status} {response.reason}", "http")
        return response.body

    return get


def server_options(settings: Settings) -> dict:
    """waitress options `digest serve` needs for the hooks: a provider's batch is larger than any form."""
    return {"max_request_body_size": MAX_HOOK_BODY + 1} if settings.providers.configured else {}


def register(app: Flask, state: WebState, fetch: Callable[[str], bytes] | None = None) -> Hooks:
    hooks = Hooks(state, fetch)
    hooks.worker = HookWorker(app, hooks.feedback)
    app.extensions["digest-hooks"] = hooks
    app.register_blueprint(bp)
    return hooks


def _hooks(provider: str):
    """(Hooks, the provider's settings); 404 when the provider is not configured."""
    hooks: Hooks = current_app.extensions["digest-hooks"]
    settings = getattr(hooks.providers, provider)
    if settings is None:
        abort(404)
    return hooks, settings


def _body() -> bytes:
    request.max_content_length = MAX_HOOK_BODY  # larger than a form: a SendGrid batch
    return request.get_data(cache=False)


@bp.errorhandler(WebhookError)
def _refused(exc: WebhookError):
    log.warning("%s %s refused (%d): %s", request.method, request.path, exc.status, exc)
    return jsonify({"error": exc.reason}), exc.status


@bp.post("/hooks/ses")
def ses():
    hooks, settings = _hooks("ses")
    message = verify_sns(_body(), topic_arn=settings.topic_arn, certificates=hooks.certificates)
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        url = subscribe_url(message)
        try:
            hooks.fetch(url)
        except Exception as exc:  # the fetcher's error, in one line; SNS sends the confirmation again
            raise WebhookError("ses", f"confirming the subscription failed: {exc}", 502) from None
        log.info("ses webhook: subscription to %s confirmed", settings.topic_arn)
        return jsonify({"confirmed": settings.topic_arn})
    if kind == "UnsubscribeConfirmation":
        log.warning("ses webhook: %s says this endpoint was unsubscribed", settings.topic_arn)
        return jsonify({"unsubscribed": settings.topic_arn})
    return hooks.record("ses", parse_ses(message))


@bp.post("/hooks/postmark")
@bp.post("/hooks/postmark/<secret>")
def postmark(secret: str | None = None):
    hooks, settings = _hooks("postmark")
    verify_postmark(request.headers.get("Authorization"), secret, settings)
    return hooks.record("postmark", parse_postmark(_body()))


@bp.post("/hooks/mailgun")
def mailgun():
    hooks, settings = _hooks("mailgun")
    event, token = verify_mailgun(_body(), settings.signing_key, now=hooks.clock())
    return hooks.record("mailgun", parse_mailgun(event), once=token)


@bp.post("/hooks/sendgrid")
def sendgrid():
    hooks, _ = _hooks("sendgrid")
    body = _body()
    verify_sendgrid(body, request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP), hooks.sendgrid_key,
                    now=hooks.clock())
    events, skipped = parse_sendgrid(body)
    return hooks.record("sendgrid", events, skipped)
