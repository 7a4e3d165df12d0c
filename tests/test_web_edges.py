"""The preference and one-click handlers at their edges: what the pages say back.

Written against what mutation testing (scripts/mutants one-click) found unguarded.
"""

from __future__ import annotations

import re

from test_web import ONE_CLICK, START, add_member, app, client, clock, csrf_from, links, member, outbox, path_of

from digest.db import members as member_db


def test_resubscribing_shows_what_changed_that_emails_are_still_paused_and_the_way_back(client, db, links):
    sub = add_member(db)
    with db.begin() as conn:
        member_db.update_preferences(conn, sub.id, paused=True, source="cli", now=START)
    client.post(path_of(links.unsubscribe_url(sub.id, 1)), data=ONE_CLICK)
    token = links.token("preferences", sub.id, 1)
    html = client.get(f"/preferences/{token}").get_data(as_text=True)
    resp = client.post(f"/preferences/{token}", data={"csrf": csrf_from(html), "action": "resubscribe"})
    page = resp.get_data(as_text=True)
    assert "Welcome back" in page
    assert re.search(r'<th scope="row">Subscription</th><td class="was">Unsubscribed</td><td>Active</td>', page)
    assert "Your emails are paused." in page
    assert f'href="/preferences/{token}"' in page
    # Again: already back, nothing changes, and the page says so.
    resp = client.post(f"/preferences/{token}", data={"csrf": csrf_from(html), "action": "resubscribe"})
    assert resp.status_code == 200 and "Nothing changed" in resp.get_data(as_text=True)
    assert member(db, sub.id).status == "active"


def test_an_unknown_topic_is_refused_and_the_known_ones_stay_ticked(client, db, links):
    sub = add_member(db, topics=("data-protection", "cyber-security"))
    token = links.token("preferences", sub.id, 1)
    html = client.get(f"/preferences/{token}").get_data(as_text=True)
    resp = client.post(f"/preferences/{token}", data={
        "csrf": csrf_from(html), "action": "save", "topics": ["smart-places", "astrology"],
        "frequency": "weekly", "format": "html", "paused": ["0"], "name": "Siân"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Choose from the topics listed." in page
    ticked = set(re.findall(r'name="topics" value="([^"]+)"[^>]*checked', page))
    assert ticked == {"smart-places"}
    assert member(db, sub.id).topics == ("data-protection", "cyber-security")


def _post(client, token, **fields):
    html = client.get(f"/preferences/{token}").get_data(as_text=True)
    data = {"csrf": csrf_from(html), "action": "save"}
    data.update(fields)
    resp = client.post(f"/preferences/{token}", data=data)
    return resp.status_code, resp.get_data(as_text=True)


def test_each_refused_field_says_why_next_to_it_and_the_form_keeps_what_was_typed(client, db, links):
    sub = add_member(db)
    token = links.token("preferences", sub.id, 1)
    status, page = _post(client, token, topics=["astrology"], frequency="weekly", format="html",
                         paused=["0", "1"], name="Siân Jones")
    assert status == 400
    assert '<p class="error-message" id="topics-error">Choose from the topics listed.</p>' in page
    assert '<input type="checkbox" id="paused" name="paused" value="1" aria-describedby="paused-hint" checked>' in page
    assert 'id="name" name="name" value="Siân Jones"' in page
    status, page = _post(client, token, frequency="weekly", format="html", name="Siân")
    assert status == 400
    assert ('<p class="error-message" id="topics-error">Choose at least one topic. To stop all emails, pause them '
            'or unsubscribe below.</p>') in page
    status, page = _post(client, token, topics=["data-protection"], frequency="hourly", format="html")
    assert status == 400
    assert '<p class="error-message" id="frequency-error">Choose one of the frequency options.</p>' in page
    assert member(db, sub.id).frequency == "weekly"


def test_fields_left_out_of_the_form_are_left_alone(client, db, links, settings):
    sub = add_member(db, topics=())  # all topics
    token = links.token("preferences", sub.id, 1)
    # Every box ticked for a member of all topics: no topic change; no frequency sent: format still read.
    status, page = _post(client, token, topics=list(settings.topic_slugs), format="text")
    assert status == 200
    assert re.findall(r'<th scope="row">([^<]+)</th>', page) == ["Format"]
    now = member(db, sub.id)
    assert (now.topics, now.frequency, now.format, now.name) == ((), "weekly", "text", "Siân")
    status, page = _post(client, token, topics=list(settings.topic_slugs), name="Siân Jones")
    assert re.search(r'<th scope="row">Name</th><td class="was">Siân</td><td>Siân Jones</td>', page)
    assert member(db, sub.id).name == "Siân Jones"


def test_the_form_shows_the_stored_choices(client, db, links, settings):
    named = add_member(db, "named@example.org", topics=())  # all topics
    unnamed = add_member(db, "unnamed@example.org", name=None, topics=("data-protection",))
    token = links.token("preferences", named.id, 1)
    page = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert 'id="name" name="name" value="Siân"' in page
    assert set(re.findall(r'name="topics" value="([^"]+)"[^>]*checked', page)) == set(settings.topic_slugs)
    assert f'<form method="post" action="/preferences/{token}"' in page
    page = client.get(f"/preferences/{links.token('preferences', unnamed.id, 1)}").get_data(as_text=True)
    assert 'id="name" name="name" value=""' in page
    assert set(re.findall(r'name="topics" value="([^"]+)"[^>]*checked', page)) == {"data-protection"}
