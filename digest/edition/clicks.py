"""Signed article links for aggregate click counting ([tracking] clicks = "aggregate").

An article link in a message becomes BASE/r/TOKEN, where the token is signed
(digest.signing, purpose "click") and holds the edition id, the article's
place in the edition, the variant ("topics:format") and the article URL.
It never names the member: every member of a variant gets the same link, so
a click says "someone who got this variant read this article", nothing more.
The web app redirects only to the URL inside a token it can verify, so /r/
is no open redirect.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature

from ..errors import TokenError
from ..signing import Signing

_MAX_TOKEN = 3000


@dataclass(frozen=True)
class Click:
    edition_id: int
    position: int
    variant: str
    url: str


def variant_label(member_topics: tuple[str, ...], fmt: str) -> str:
    return f"{','.join(member_topics) or '*'}:{fmt}"


class ClickLinks:
    def __init__(self, secret_key: str, base_url: str):
        if not secret_key:
            raise ValueError("ClickLinks needs a secret key")
        self.base_url = base_url.rstrip("/")
        self._s = Signing(secret_key).serializer("click")

    def url(self, edition_id: int, position: int, variant: str, target: str) -> str:
        return f"{self.base_url}/r/{self._s.dumps([edition_id, position, variant, target])}"

    def read(self, token: str) -> Click:
        """The click a token stands for; TokenError if it is forged, altered or malformed."""
        if not isinstance(token, str) or not 10 < len(token) < _MAX_TOKEN:
            raise TokenError("the link is damaged or incomplete")
        try:
            data = self._s.loads(token)
        except BadSignature:
            raise TokenError("the link is not valid (damaged, or made for something else)") from None
        if (not isinstance(data, list) or len(data) != 4 or not all(isinstance(x, int) for x in data[:2])
                or not all(isinstance(x, str) for x in data[2:])
                or not data[3].startswith(("https://", "http://"))):
            raise TokenError("the link is not valid (unexpected contents)")
        return Click(*data)


def article_urls(settings, edition, items, member_topics, fmt: str) -> list[str]:
    """The links a variant's articles get: through /r/ when counting is on and the edition is saved, else direct.

    The one place that decides, for the renderer and for the checks of what was rendered.
    """
    direct = [it.url.strip() for it in items]
    if settings.tracking_clicks != "aggregate" or getattr(edition, "id", None) is None:
        return direct
    links, variant = ClickLinks(settings.secret_key, settings.base_url), variant_label(tuple(member_topics), fmt)
    return [links.url(edition.id, it.position, variant, url) for it, url in zip(items, direct)]
