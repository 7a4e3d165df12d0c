"""The desk's third-round hardening (issue 25): sessions that end, ids and periods from outside, the throttle."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings as h_settings, strategies as st

from desk_fixtures import EMAIL, PASSWORD, app, csrf_of, desk, editor, outbox, sign_in, week25  # noqa: F401

from digest.db import editors as editor_db
from digest.edition.periods import parse_period
from digest.errors import SelectionError


def _copy_cookie(app, client):
    """A second browser holding a copy of the first one's desk cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("digest_desk", path="/desk")
    thief.set_cookie("digest_desk", cookie.value, path="/desk")
    return thief


def test_signing_out_ends_the_session_for_a_copied_cookie_too(app, desk, week25):
    client, csrf = desk
    thief = _copy_cookie(app, client)
    assert thief.get("/desk/").status_code == 200  # the copy works while the session lives
    assert client.post("/desk/sign-out", data={"csrf": csrf}).status_code == 303
    assert thief.get("/desk/").status_code == 303
    resp = thief.post("/desk/articles/1/pin", data={"csrf": csrf})
    assert resp.status_code == 401


def test_a_new_password_or_removal_ends_every_copy(app, desk, db, editor):
    client, _ = desk
    thief = _copy_cookie(app, client)
    with db.begin() as conn:
        editor_db.set_password(conn, editor.id, editor_db.password_hash(conn, editor.id))  # same hash, new version
    assert thief.get("/desk/").status_code == 303 and client.get("/desk/").status_code == 303
    assert sign_in(client).status_code == 303
    thief = _copy_cookie(app, client)
    with db.begin() as conn:
        editor_db.remove(conn, editor.id)
    assert thief.get("/desk/").status_code == 303


def test_an_id_past_the_databases_range_is_a_404(desk):
    client, csrf = desk
    for article in ("100000000000000000000000", str(2**63), "9223372036854775807", str(2**31)):
        assert client.post(f"/desk/articles/{article}/pin", data={"csrf": csrf}).status_code == 404


def test_periods_before_1900_or_past_9998_are_a_400(desk):
    client, _ = desk
    for period in ("0001-01", "0001-W01", "0001-01-01", "1899-12", "9999-W52", "0001-01-01..0001-01-02"):
        for page in ("/desk/", "/desk/preview"):
            resp = client.get(page, query_string={"period": period})
            assert resp.status_code == 400, (page, period)


def test_a_next_holding_cr_lf_goes_to_the_week(app, editor):
    client = app.test_client()
    page = client.get("/desk/sign-in")
    resp = client.post("/desk/sign-in", data={"csrf": csrf_of(page.text), "email": EMAIL, "password": PASSWORD,
                                              "next": "/desk/\r\nSet-Cookie: x=1"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/desk/"


@given(st.text(max_size=30) | st.from_regex(r"\A[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)\Z"))
@h_settings(max_examples=300, deadline=None)
def test_a_period_is_a_window_in_range_or_one_selection_error(key):
    try:
        window = parse_period(key, "Europe/London")
    except SelectionError as exc:
        assert "\n" not in str(exc).strip("\n") or "\n" in key
        return
    assert 1899 <= window.start.year and window.end.year <= 9999


ids = st.integers(min_value=-(2**80), max_value=2**80).map(str) | st.text(
    st.characters(codec="ascii", exclude_characters="/?#%"), min_size=1, max_size=12)
periods = st.text(max_size=24) | st.from_regex(r"\A[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)\Z")


@given(article=ids, period=periods, action=st.sampled_from(["pin", "unpin", "exclude", "up", "summary", "topics"]))
@h_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_desks_routes_never_answer_500_for_any_id_or_period(desk, week25, article, period, action):
    client, csrf = desk
    resp = client.post(f"/desk/articles/{article}/{action}", data={"csrf": csrf, "period": period, "summary": "x"})
    assert resp.status_code in (303, 400, 404, 405), (article, period, resp.status_code)
    for page in ("/desk/", "/desk/preview", "/desk/preview/frame", "/desk/preview/text"):
        resp = client.get(page, query_string={"period": period})
        assert resp.status_code in (200, 400), (page, period, resp.status_code)
    resp = client.post("/desk/edition/text", data={"csrf": csrf, "period": period, "subject": "s"})
    assert resp.status_code == 303


def test_digest_weekly_with_a_week_out_of_range_says_one_line(run_cli, seed_path):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    for week in ("0001-W01", "9999-W52"):
        result = run_cli("weekly", "--week", week)
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        assert result.output.strip().count("\n") == 0 and week in result.output, result.output


def _client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_strangers_wrong_passwords_do_not_lock_the_editor_out(app, editor, outbox):
    stranger = _client_at(app, "203.0.113.7")
    for _ in range(5):
        assert sign_in(stranger, password="wrong password, guessed").status_code == 400
    assert sign_in(stranger, password="wrong password, guessed").status_code == 429  # the stranger is slowed
    assert sign_in(_client_at(app, "198.51.100.2")).status_code == 303  # the editor, elsewhere, is not
    # From the stranger's own address, the emailed link still comes and still works.
    csrf = csrf_of(stranger.get("/desk/sign-in").text)
    page = stranger.post("/desk/sign-in/link", data={"csrf": csrf, "email": EMAIL})
    assert page.status_code == 200 and "Check your inbox" in page.text
    assert len(outbox.sent) == 1


def test_the_throttle_counts_an_address_however_it_is_spelled(app, editor):
    client = app.test_client()
    for spelling in ("Ed@Example.org ", "ed@example.org", " ED@EXAMPLE.ORG", "Ed@Example.org ", "ed@example.org"):
        assert sign_in(client, email=spelling, password="wrong password, guessed").status_code == 400
    assert sign_in(client, email="ed@example.org", password="wrong password, guessed").status_code == 429
    assert sign_in(client).status_code == 303  # another address from the same client still may


def test_many_clients_guessing_one_address_are_stopped_together(app, editor):
    for i in range(10):
        for _ in range(5):
            sign_in(_client_at(app, f"192.0.2.{i}"), password="wrong password, guessed")
    assert sign_in(_client_at(app, "192.0.2.200"), password="wrong password, guessed").status_code == 429


def test_the_progress_of_a_send_is_only_for_a_queued_edition(desk, week25):
    client, _ = desk
    assert client.get("/desk/edition/progress?period=2017-W25").status_code == 404  # not built, not queued
    assert client.get("/desk/edition/progress?period=0001-W01").status_code == 404
    assert client.get("/desk/edition/progress?period=nonsense").status_code == 404


def _clocked(app, now):
    """The desk's throttle, as configured, counting on a clock the test moves."""
    from digest.web.common import RateLimiter

    d = app.extensions["digest.desk"]
    for name in ("per_pair", "per_client", "per_address", "links_per_address"):
        old = getattr(d, name)
        setattr(d, name, RateLimiter(old.limit, old.window, clock=lambda: now[0]))
    return d


def test_retry_after_is_the_whole_seconds_until_the_next_try(app, editor):
    now = [1000.0]
    d = _clocked(app, now)
    client = _client_at(app, "203.0.113.9")
    for _ in range(d.per_pair.limit):
        assert sign_in(client, password="wrong password, guessed").status_code == 400
    now[0] += 100.25
    resp = sign_in(client)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == str(int(d.per_pair.window) - 100)
    now[0] += d.per_pair.window - 100.25  # the first try has left the window: one more may come
    assert sign_in(client).status_code == 303


def test_link_requests_count_per_client_and_per_address_but_not_against_passwords(app, editor, outbox):
    now = [1000.0]
    d = _clocked(app, now)
    client = _client_at(app, "203.0.113.10")

    def ask(email):
        return client.post("/desk/sign-in/link", data={"csrf": csrf_of(client.get("/desk/sign-in").text),
                                                        "email": email})

    for _ in range(d.links_per_address.limit):
        assert ask(EMAIL).status_code == 200
    assert ask(EMAIL).status_code == 429  # this address has asked enough
    assert sign_in(_client_at(app, "198.51.100.3")).status_code == 303  # its password still works
    for i in range(d.per_client.limit - d.links_per_address.limit - 1):
        assert ask(f"someone{i}@example.org").status_code == 200
    assert ask("someone.else@example.org").status_code == 429  # this client has asked enough


def test_signing_in_goes_back_to_the_desk_page_asked_for(app, editor):
    client = app.test_client()
    target = "/desk/audit?period=2017-W25"
    page = client.get("/desk/sign-in?next=" + target.replace("?", "%3F").replace("=", "%3D"))
    resp = client.post("/desk/sign-in", data={"csrf": csrf_of(page.text), "email": EMAIL, "password": PASSWORD,
                                              "next": target})
    assert resp.status_code == 303 and resp.headers["Location"] == target
    again = client.get("/desk/sign-in", query_string={"next": "/desk/members"})  # already signed in: straight there
    assert again.status_code == 303 and again.headers["Location"] == "/desk/members"


def test_only_a_plain_desk_address_of_at_most_2000_characters_is_gone_back_to(app, editor):
    long_ok = "/desk/audit?x=" + "a" * (2000 - len("/desk/audit?x="))
    cases = [("/desk/audit", "/desk/audit"), (long_ok, long_ok), (long_ok + "a", "/desk/"),
             ("/desk/\\evil.example.org", "/desk/"), ("//evil.example.org/desk/", "/desk/"),
             ("/desk/caf\u00e9", "/desk/")]
    for i, (target, expected) in enumerate(cases):
        client = _client_at(app, f"192.0.2.{100 + i}")  # apart: the throttle counts every password try
        page = client.get("/desk/sign-in")
        resp = client.post("/desk/sign-in", data={"csrf": csrf_of(page.text), "email": EMAIL, "password": PASSWORD,
                                                  "next": target})
        assert (resp.status_code, resp.headers["Location"]) == (303, expected), target
