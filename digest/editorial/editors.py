"""Editors of the edition desk: addresses, passwords, one-time links and the email that carries them.

    hashed = hash_password("correct horse battery staple")   # werkzeug scrypt
    password_ok(hashed, attempt)
    links = EditorLinks(settings.secret_key, settings.base_url)
    url, nonce_hash = links.make("sign-in", editor_id)       # store nonce_hash, mail url
    editor_id, purpose, nonce_hash = links.read(token, max_age=1800)

A one-time link carries a random nonce; the database keeps only its sha256
(editors.link_hash) and clears it when the link is used, so a link works once,
a newer link replaces an older one, and a link older than max_age is refused.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Callable, Sequence

from itsdangerous import BadSignature, SignatureExpired
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import Settings, web_option
from ..db import Database
from ..db import editors as editor_db
from ..errors import EditorError, SubscriberError, TokenError
from ..i18n import N_, language
from ..members import clean_name, normalise_email
from ..message.outgoing import Outgoing
from ..sending.transports import Envelope, SendResult, Transport
from ..signing import Signing

PASSWORD_MIN = 12
PASSWORD_MAX = 200
LINK_PURPOSES = ("set-password", "sign-in")
NOTICES = ("held",)  # what an editor can be told of by email: an edition the gate held
# Compared against when an address is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method="scrypt")


def normalise_editor_email(raw: str) -> str:
    try:
        return normalise_email(raw)
    except SubscriberError as exc:  # the same rules as members' addresses; an editor's error
        raise EditorError(raw.strip(), exc.reason) from None


def editor_name(raw: str | None, email: str = "") -> str | None:
    try:
        return clean_name(raw, email=email)
    except SubscriberError as exc:
        raise EditorError(email, exc.reason) from None


def check_new_password(password: str, email: str = "") -> str:
    """The password if it is acceptable, else EditorError saying why (in words for the form)."""
    if len(password) < PASSWORD_MIN:
        raise EditorError(email, f"a password needs at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise EditorError(email, f"a password can have at most {PASSWORD_MAX} characters")
    if email and password.strip().lower() == email.strip().lower():
        raise EditorError(email, "the password cannot be the email address")
    return password


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def password_ok(stored_hash: str | None, attempt: str) -> bool:
    """Constant work whether or not the editor has a password (no timing hint)."""
    if not stored_hash:
        check_password_hash(_DUMMY_HASH, attempt)
        return False
    return check_password_hash(stored_hash, attempt)


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("ascii", "replace")).hexdigest()


class EditorLinks:
    """Signed, timed one-time links for editors (set a password, or sign in)."""

    def __init__(self, secret_key: str, base_url: str, *, clock: Callable[[], float] = time.time):
        """clock: seconds since the epoch, for the link's timestamp and its age."""
        self.base_url = base_url.rstrip("/")
        self._serializer = Signing(secret_key, clock=clock).serializer("desk-link")

    def make(self, purpose: str, editor_id: int) -> tuple[str, str]:
        """(url, hash to store): the URL goes to the editor, only the hash into the database."""
        if purpose not in LINK_PURPOSES:
            raise ValueError(f"unknown link purpose {purpose!r}")
        nonce = secrets.token_urlsafe(24)
        token = self._serializer.dumps([editor_id, purpose, nonce])
        return f"{self.base_url}/desk/link/{token}", nonce_hash(nonce)

    def read(self, token: str, *, max_age: int) -> tuple[int, str, str]:
        """(editor id, purpose, nonce hash) of a genuine link younger than max_age seconds."""
        if not token or len(token) > 500:
            raise TokenError("not a desk link")
        try:
            editor_id, purpose, nonce = self._serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            raise TokenError("the link has expired") from None
        except (BadSignature, ValueError, TypeError):
            raise TokenError("not a desk link") from None
        if not isinstance(editor_id, int) or purpose not in LINK_PURPOSES or not isinstance(nonce, str):
            raise TokenError("not a desk link")
        return editor_id, purpose, nonce_hash(nonce)


# ---------------------------------------------------------------- desk options ([web] in digest.toml)

DESK_OPTIONS = {  # key: (default, lowest, highest)
    "desk_link_minutes": (60, 5, 7 * 24 * 60),  # how long a one-time link works
    "desk_session_hours": (12, 1, 24 * 30),  # how long a sign-in lasts
    "desk_signin_limit": (5, 1, 1000),  # sign-in attempts per address (and 4x per client) ...
    "desk_signin_window": (900, 10, 86_400),  # ... per this many seconds
}


def desk_option(settings: Settings, key: str) -> int:
    default, low, high = DESK_OPTIONS[key]
    return web_option(settings, key, default, low, high)


# ---------------------------------------------------------------- the link email

# (subject, intro) of each link's email; in the editors' language (Settings.editor_language).
LINK_WORDS = {
    "set-password": (N_("Set your password for the edition desk"),
                     N_("You have been made an editor of %(organisation)s's email digest. Open this link to choose "
                        "your password for the edition desk:")),
    "sign-in": (N_("Your sign-in link for the edition desk"),
                N_("Someone (we hope you) asked to sign in to %(organisation)s's edition desk. "
                   "Open this link to sign in:")),
}


def link_subject(settings: Settings, purpose: str) -> str:
    _ = language(settings.editor_language).gettext
    return _("%(subject)s (%(organisation)s)") % {"subject": _(LINK_WORDS[purpose][0]),
                                                 "organisation": settings.organisation}


def link_text(settings: Settings, to: str, name: str | None, purpose: str, url: str, *, minutes: int) -> str:
    """The words of the email that carries a one-time link."""
    words = language(settings.editor_language)
    _ = words.gettext
    intro = _(LINK_WORDS[purpose][1]) % {"organisation": settings.organisation}
    if minutes % 60 == 0:
        works = words.ngettext("The link works once, for %(num)d hour(s).",
                               "The link works once, for %(num)d hour(s).", minutes // 60) % {"num": minutes // 60}
    else:
        works = words.ngettext("The link works once, for %(num)d minutes.",
                               "The link works once, for %(num)d minutes.", minutes) % {"num": minutes}
    return (_("Hello %(name)s,") % {"name": name or to} + f"\n\n{intro}\n\n{url}\n\n{works} "
            + _("If you did not expect this email, ignore it: nothing changes until the link is used.")
            + f"\n\n{settings.organisation}\n")


def issue_link(db: Database, settings: Settings, editor_id: int, purpose: str, transport: Transport | None, *,
               now) -> tuple[str, SendResult | Exception | None]:
    """Make a new one-time link (replacing any older one), store its hash, mail it (unless transport is None).

    Returns (url, the transport's SendResult, or the exception that stopped the
    send, or None when not sent). The caller decides whether the URL may be
    shown: the CLI prints it when the mail did not go; the web never shows it.
    """
    url, hashed = EditorLinks(settings.secret_key, settings.base_url).make(purpose, editor_id)
    with db.begin() as conn:
        editor = editor_db.get(conn, editor_id)
        if editor is None:
            raise EditorError(str(editor_id), "no such editor")
        editor_db.set_link(conn, editor_id, purpose, hashed)
    if transport is None:
        return url, None
    subject = link_subject(settings, purpose)
    text = link_text(settings, editor.email, editor.name, purpose, url,
                     minutes=desk_option(settings, "desk_link_minutes"))
    message = Outgoing(settings).notice(editor.email, subject, text, kind="desk", date=now)
    try:
        return url, transport.send(Envelope(settings.sender_address, (editor.email,)), message)
    except Exception as exc:  # a transport that cannot even connect
        return url, exc
    finally:
        transport.close()


# ---------------------------------------------------------------- the held notice


def held_notice(settings: Settings, key: str, problems: list[str], to: Sequence[str], *, force_command: str,
                now) -> tuple[Envelope, bytes]:
    """The one short email that tells the editors an edition is held, and why (DKIM-signed like every message),
    in the editors' language (the problems are the gate's, in English: operators' diagnostics)."""
    _ = language(settings.editor_language).gettext
    names = {"edition": key, "organisation": settings.organisation}
    text = "\n".join([
        _("The %(edition)s edition of %(organisation)s is held: nothing was built, queued or sent.") % names,
        "",
        *[f"- {p}" for p in problems],
        "",
        _("Fix the sources and run it again, or send it as it is:"),
        f"  {force_command}",
    ]) + "\n"
    subject = _("Held: %(organisation)s edition %(edition)s was not sent") % names
    message = Outgoing(settings).notice(", ".join(to), subject, text, kind="held", date=now)
    return Envelope(settings.sender_address, tuple(to)), message


def seed_editors(db: Database, settings: Settings, *, now) -> list[str]:
    """Add each address of [organisation] editors that is not on the desk's list (told of held editions).

    The desk's list is the one list of editors; the config only seeds it. An
    editor removed while still in the config comes back here: remove the
    address from the config too. Returns the addresses added.
    """
    added = []
    with db.begin() as conn:
        for address in settings.editors:
            if editor_db.get_by_email(conn, address) is None:
                editor_db.add(conn, address, None, now=now, notify=("held",))
                editor_db.audit(conn, "config", "editor-add", address, {"notify": ["held"]}, now=now)
                added.append(address)
    return added


def parse_notify(raw: str) -> tuple[str, ...]:
    """"held" (or "a,b"; "none" for none) -> the notices an editor gets; EditorError naming an unknown one."""
    kinds = tuple(k.strip().lower() for k in raw.split(",") if k.strip())
    if kinds == ("none",):
        return ()
    unknown = [k for k in kinds if k not in NOTICES]
    if unknown:
        raise EditorError(unknown[0], f"is not a notice (one of: {', '.join(NOTICES)}, or none)")
    return tuple(k for k in NOTICES if k in kinds)


def tell_editors(db: Database, settings: Settings, key: str, problems: list[str],
                 make_transport: Callable[[], Transport], *, force_command: str,
                 now) -> tuple[tuple[str, ...], SendResult | None]:
    """Send held_notice to the editors told of held editions; (who, the outcome), or ((), None) when nobody is."""
    seed_editors(db, settings, now=now)
    with db.connect() as conn:
        to = tuple(e.email for e in editor_db.to_notify(conn, "held"))
    if not to:
        return (), None
    envelope, message = held_notice(settings, key, problems, to, force_command=force_command, now=now)
    transport = make_transport()
    try:
        return to, transport.send(envelope, message)
    finally:
        transport.close()
