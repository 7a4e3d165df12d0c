"""Send-test: one variant of an edition mailed to an editor; no delivery is touched."""

from __future__ import annotations

from datetime import datetime

from ..config import Settings
from ..db import Database
from ..edition.render import render_plan
from ..edition.variants import plan_variant
from ..errors import EditionError
from ..members import normalise_email
from ..message.assemble import Recipient
from ..message.outgoing import Outgoing
from ..models import TopicSet
from ..sending.transports import Envelope, SendResult, Transport
from .preview import PreviewRequest, find_edition, preview_language, resolve_window


def send_test(db: Database, settings: Settings, key: str, to: str, variant: str, transport: Transport, *,
              now: datetime) -> tuple[str, SendResult]:
    """Mail one variant of an edition (built, or planned now) to an editor.

    `variant` is TOPICS[:FORMAT[:LANGUAGE]] (`*` for all topics; a language tag, or "bilingual").
    Returns the normalised address and the transport's result.
    """
    address = normalise_email(to)
    topics, _, fmt = variant.partition(":")
    fmt, _, wanted_lang = fmt.partition(":")
    lang = preview_language(settings, wanted_lang)
    fmt = fmt or "html"
    if fmt not in ("html", "text"):
        raise EditionError(key, f"variant {variant!r}: format must be html or text")
    wanted = TopicSet.from_label(topics)
    unknown = [t for t in wanted if t not in settings.topic_slugs]
    if unknown:
        raise EditionError(key, f"variant {variant!r}: unknown topic {unknown[0]!r}")
    edition = find_edition(db, settings, resolve_window(settings, PreviewRequest(key=key), now=now))
    plan = plan_variant(wanted, fmt, edition.items, settings.topic_slugs, lang)
    if plan is None:
        raise EditionError(key, f"variant {variant!r} would be empty: no article in those topics")
    out = Outgoing(settings)
    template = out.template(render_plan(edition, settings, plan), edition_key=f"{key}-test", fmt=fmt)
    message = out.digest(template, Recipient(0, 0, address, None, 0), date=now)
    return address, transport.send(Envelope(settings.sender_address, (address,)), message)
