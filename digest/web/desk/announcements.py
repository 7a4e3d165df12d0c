"""/desk/announcements: compose an announcement, count its audience, and keep it as a draft.

    GET  /desk/announcements                 the announcements, newest first
    GET  /desk/announcements/new             the compose form      POST: create it (or count its audience)
    GET  /desk/announcements/ID              its page: the form (a draft), the audience count, the steps
    POST /desk/announcements/ID              save the changes (or count the audience of the form as it is)

The preview, test, approve, queue and schedule steps are in desk/announcing.py.
Every rule (what a body may hold, who an audience reaches, which state allows
what) is digest.editorial.announcements', the same functions `digest
announcement ...` calls: the desk turns a form into an Announcement, shows the
library's answer, and adds no rule of its own but the form's shape.
"""

from __future__ import annotations

from datetime import timedelta

from flask import g, redirect, request, url_for

from ...db import articles as article_db
from ...db import deliveries as delivery_db
from ...db import editors as editor_db
from ...editorial import announcements as lib
from ...errors import AnnouncementError, DigestError
from ...models import ANNOUNCEMENT_KINDS, Announcement
from ..common import state, words
from .core import bp
from .pages import desk_error, desk_page, note

MAX_ID = 2**31 - 1  # an id from a URL within PostgreSQL's INTEGER: larger is a 404, not a driver error
AUDIENCES = ("all", "topics", "attr", "saved")
ARTICLE_DAYS = 90  # the stored articles offered to pick from: this many days back
ARTICLE_CHOICES = 60
LIMITS = {"subject": 200, "preheader": 200, "body": 20_000, "cta_label": 60, "cta_url": 2000, "picture_url": 2000,
          "picture_alt": 300, "attributes": 1000, "save_as": 100}
# Which form field an AnnouncementError is about, by the `what` the library names.
FIELD_OF = {"subject": "subject", "preheader": "preheader", "body": "body", "kind": "kind", "audience": "audience",
            "call to action": "cta_url", "call to action address": "cta_url", "call to action label": "cta_label",
            "picture": "picture_url", "article": "articles", "audience name": "save_as"}


def read_form() -> dict:
    """The compose form as sent: every field a string (or a list), trimmed to its limit."""
    f = request.form
    form = {name: (f.get(name) or "").replace("\r\n", "\n").strip()[:limit] for name, limit in LIMITS.items()}
    form["kind"] = f.get("kind") if f.get("kind") in ANNOUNCEMENT_KINDS else ""
    form["audience"] = f.get("audience") if f.get("audience") in AUDIENCES else ""
    form["topics"] = [t for t in state().settings.topic_slugs if t in f.getlist("topics")]
    form["saved"] = (f.get("saved") or "").strip()[:100]
    form["articles"] = [int(a) for a in f.getlist("articles") if a.isdigit() and 0 < int(a) <= MAX_ID][:20]
    form["public"] = f.get("public") == "yes"
    return form


def form_of(a: Announcement) -> dict:
    """The form showing a stored announcement."""
    kind, _, rest = a.audience.partition(":")
    return {"subject": a.subject, "preheader": a.preheader, "body": a.body, "cta_label": a.cta_label,
            "cta_url": a.cta_url, "picture_url": a.picture_url, "picture_alt": a.picture_alt, "kind": a.kind,
            "audience": kind if kind in AUDIENCES else "all", "topics": rest.split(",") if kind == "topics" else [],
            "attributes": rest.replace(",", "\n") if kind == "attr" else "", "saved": rest if kind == "saved" else "",
            "articles": list(a.articles), "public": a.public, "save_as": ""}


def audience_spec(form: dict) -> str:
    """The audience in its one spelling (models.Audience.spec): all, topics:a,b, attr:k=v,k2=v2, saved:NAME."""
    if form["audience"] == "topics":
        return "topics:" + ",".join(form["topics"])
    if form["audience"] == "attr":
        pairs = [" ".join(p.split()) for line in form["attributes"].splitlines() for p in line.split(",")]
        return "attr:" + ",".join(p.replace(" = ", "=") for p in pairs if p)
    if form["audience"] == "saved":
        return "saved:" + form["saved"]
    return "all"


def form_errors(form: dict) -> dict[str, str]:
    """The form's own shape, one message per field (the library judges the rest: links, audience, body)."""
    _ = words().gettext
    errors = {}
    if not form["subject"]:
        errors["subject"] = _("Write a subject: it is the first thing members see.")
    if not form["body"]:
        errors["body"] = _("Write the message itself.")
    if bool(form["cta_label"]) != bool(form["cta_url"]):
        errors["cta_url" if form["cta_label"] else "cta_label"] = _(
            "A button needs both its words and its web address (or leave both empty).")
    if form["picture_url"] and not form["picture_alt"]:
        errors["picture_alt"] = _("Describe the picture for members who cannot see it.")
    if not form["kind"]:
        errors["kind"] = _("Choose news or a statutory notice.")
    if not form["audience"]:
        errors["audience"] = _("Choose who gets it.")
    elif form["audience"] == "topics" and not form["topics"]:
        errors["audience"] = _("Tick at least one topic, or choose another audience.")
    elif form["audience"] == "attr" and not form["attributes"]:
        errors["audience"] = _("Give at least one attribute, such as region=Wales.")
    elif form["audience"] == "saved" and not form["saved"]:
        errors["audience"] = _("Choose a saved audience.")
    return errors


def announcement_of(form: dict) -> Announcement:
    return Announcement(subject=form["subject"], preheader=form["preheader"], body=form["body"],
                        audience=audience_spec(form), kind=form["kind"], cta_label=form["cta_label"],
                        cta_url=form["cta_url"], picture_url=form["picture_url"], picture_alt=form["picture_alt"],
                        articles=tuple(form["articles"]), public=form["public"])


def library_error(exc: DigestError, errors: dict[str, str]) -> None:
    """The library's refusal, on the field it names (else above the form)."""
    what = getattr(exc, "what", "")
    field = FIELD_OF.get(what, "")
    errors[field or "form"] = str(exc)


def count_of(spec: str, kind: str) -> tuple[int | None, str | None]:
    """(how many members the audience reaches now, or None and why not)."""
    st = state()
    try:
        return lib.audience_count(st.db, st.settings, spec, kind), None
    except DigestError as exc:
        return None, getattr(exc, "reason", None) or str(exc)


def compose_page(form: dict, errors: dict, *, announcement: Announcement | None = None, count=None, status=200):
    st = state()
    since = st.now() - timedelta(days=ARTICLE_DAYS)
    with st.db.connect() as conn:
        # The last few months' articles; when nothing came in lately (a quiet site, old demo data), the newest.
        offered = (article_db.list_articles(conn, since=since, include_excluded=False)
                   or article_db.list_articles(conn, include_excluded=False))[:ARTICLE_CHOICES]
        chosen = [a for a in article_db.list_articles(conn, ids=form["articles"]) if a.id not in
                  {o.id for o in offered}] if form["articles"] else []
    saved = lib.saved_audiences(st.db)
    queued = announcement is not None and announcement.state == "queued"
    deliveries = None
    if queued and announcement.edition_id is not None:  # what was queued, as it goes: not who it would reach now
        with st.db.connect() as conn:
            deliveries = delivery_db.counts(conn, announcement.edition_id)
    elif count is None and not errors and form["audience"]:
        count = count_of(audience_spec(form), form["kind"] or "news")
    return desk_page("desk/announcement.html", status, form=form, errors=errors, announcement=announcement,
                     count=count, deliveries=deliveries, articles=chosen + offered, saved=saved, kinds=ANNOUNCEMENT_KINDS,
                     topics=[(t.slug, t.label) for t in st.settings.topics],
                     editable=announcement is None or announcement.state != "queued", zone=st.settings.timezone,
                     schedule=schedule_of(announcement))


def schedule_of(announcement: Announcement | None):
    """The send time an approved announcement is scheduled for (models.SendTime), or None."""
    if announcement is None or announcement.state != "approved":
        return None
    return announcement.send_time


@bp.get("/announcements")
def announcements():
    st = state()
    rows = lib.list_announcements(st.db)
    return desk_page("desk/announcements.html", rows=rows,
                     schedules={a.id: schedule_of(a) for a in rows if a.state == "approved"})


@bp.get("/announcements/new")
def new_announcement():
    blank = {name: "" for name in LIMITS} | {"kind": "news", "audience": "all", "topics": [], "saved": "",
                                             "articles": [], "public": False}
    return compose_page(blank, {})


def _save(form: dict, existing: Announcement | None):
    """Create or update from the form; (announcement, errors)."""
    st = state()
    errors = form_errors(form)
    if errors:
        return None, errors
    try:
        if form["save_as"]:
            lib.save_audience(st.db, st.settings, form["save_as"], audience_spec(form), by=g.editor.email,
                              now=st.now())
        if existing is None:
            saved = lib.create_announcement(st.db, st.settings, announcement_of(form), by=g.editor.email,
                                            now=st.now())
        else:
            changes = {k: v for k, v in vars(announcement_of(form)).items() if k in lib.EDITABLE}
            saved = lib.edit_announcement(st.db, st.settings, existing.id, changes, by=g.editor.email, now=st.now())
    except AnnouncementError as exc:
        library_error(exc, errors)
        return None, errors
    return saved, {}


@bp.post("/announcements/new")
def create_announcement():
    form = read_form()
    if request.form.get("count"):
        return _counted(form, None)
    saved, errors = _save(form, None)
    if saved is None:
        return compose_page(form, errors, status=400)
    audit(saved, "announcement-create")
    note(words().gettext("Saved as a draft. Preview it, send yourself a test, then approve it."))
    return redirect(url_for("desk.announcement", announcement_id=saved.id), 303)


def _counted(form: dict, existing: Announcement | None):
    """The form again, unsaved, with its audience counted (the "Count the audience" button)."""
    errors = {k: v for k, v in form_errors(form).items() if k == "audience"}
    count = None if errors else count_of(audience_spec(form), form["kind"] or "news")
    return compose_page(form, errors, announcement=existing, count=count, status=400 if errors else 200)


def load(announcement_id: int) -> Announcement | None:
    try:
        return lib.get_announcement(state().db, announcement_id)
    except AnnouncementError:  # no such announcement: the views answer 404
        return None


@bp.get(f"/announcements/<int(max={MAX_ID}):announcement_id>")
def announcement(announcement_id: int):
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    return compose_page(form_of(found), {}, announcement=found)


@bp.post(f"/announcements/<int(max={MAX_ID}):announcement_id>")
def save_announcement(announcement_id: int):
    found = load(announcement_id)
    if found is None:
        return desk_error("not-found", 404)
    form = read_form()
    if request.form.get("count"):
        return _counted(form, found)
    if found.state == "queued":
        note(words().gettext("It was queued: nothing can change what was sent."), "problem")
        return redirect(url_for("desk.announcement", announcement_id=found.id), 303)
    saved, errors = _save(form, found)
    if saved is None:
        return compose_page(form, errors, announcement=found, status=400)
    audit(saved, "announcement-edit")
    _ = words().gettext
    note(_("Saved. It is a draft again: approve it once more before it can be queued.")
         if found.state == "approved" else _("Saved."))
    return redirect(url_for("desk.announcement", announcement_id=saved.id), 303)


def audit(a: Announcement, action: str, **detail) -> None:
    """A row of the desk's audit log for this announcement."""
    st = state()
    with st.db.begin() as conn:
        editor_db.audit(conn, g.editor, action, a.key, {"subject": a.subject, "audience": a.audience,
                                                        "kind": a.kind, **detail}, now=st.now())
