"""POST /desk/edition/schedule: the edition's send time, set, changed or withdrawn (editorial/schedule.py).

The same library calls as `digest edition schedule`, which also write the
audit trail; `digest run` queues and sends the edition at the first run after
its time.
"""

from __future__ import annotations

from flask import g, request

from ...editorial.schedule import schedule_send, withdraw_send
from ...editorial.week import window_for
from ...errors import DigestError
from ...models import SendTime
from ..common import state, words
from .core import bp
from .pages import note
from .week import back_to, period_from_request


@bp.app_template_global("send_time_words")
def send_time_words(send: SendTime) -> str:
    """"28 June 2027, 07:00": the wall time in the desk's language (CLDR's long date)."""
    return f"{words().long_date(send.local.date())}, {send.local:%H:%M}"


@bp.post("/edition/schedule")
def schedule():
    """Set or change the send time (date, time, zone fields), or withdraw it (the withdraw button)."""
    st = state()
    _ = words().gettext
    period = period_from_request()
    form = request.form
    try:
        key = window_for(st.settings, period, now=st.now()).key
        if form.get("withdraw"):
            before = withdraw_send(st.db, key, by=g.editor, now=st.now())
            note(_("Withdrew the send time of %(key)s (%(when)s %(zone)s): it goes when its period is due.")
                 % {"key": key, "when": send_time_words(before), "zone": before.zone})
            return back_to(key, "schedule")
        at = f"{form.get('date', '').strip()} {form.get('time', '').strip()}"
        send = schedule_send(st.db, st.settings, key, at, zone=form.get("zone", "").strip() or None, by=g.editor,
                             now=st.now())
    except DigestError as exc:
        note(_("Not scheduled: %(problem)s") % {"problem": str(exc)}, "problem")
        return back_to(period, "schedule")
    note(_("%(key)s will be queued and sent at %(when)s %(zone)s, at the first run of digest after that time.")
         % {"key": key, "when": send_time_words(send), "zone": send.zone})
    return back_to(key, "schedule")
