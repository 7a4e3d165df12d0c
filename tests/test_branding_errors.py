"""An organisation's template that raises or calls itself: one line naming the template and line, nothing half-done."""

from __future__ import annotations

import pytest

from digest.db import editions as edition_db
from digest.edition.render import _environment

BROKEN = {
    "raises": ("{# masthead #}\n<mj-section>\n{{ 1 // 0 }}\n</mj-section>\n", "ZeroDivisionError"),
    "recurses": ("{% macro again(n) %}{{ again(n + 1) }}{% endmacro %}\n\n{{ again(0) }}\n",
                 "calls itself without end"),
}


@pytest.fixture(params=sorted(BROKEN))
def broken(request, tmp_path, monkeypatch, run_cli, seed_path):
    source, message = BROKEN[request.param]
    own = tmp_path / "branding" / "partials"
    own.mkdir(parents=True)
    (own / "masthead.mjml.j2").write_text(source, encoding="utf-8")
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[digest]\ntemplates_dir = "branding"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(cfg))
    _environment.cache_clear()
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    assert run_cli("subscribers", "add", "ada@example.net").exit_code == 0
    line = 3 if request.param == "raises" else 1
    yield message, f"masthead.mjml.j2:{line}"
    _environment.cache_clear()


def _one_line(result, message, where):
    assert result.exit_code not in (0, None) and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1 and message in errors[0] and where in errors[0], result.output
    assert len(errors[0]) < 300


def test_preview_and_send_test_say_one_line(broken, run_cli, tmp_path):
    message, where = broken
    _one_line(run_cli("preview", "--week", "2017-W25", "--out", tmp_path / "p.html"), message, where)
    _one_line(run_cli("send-test", "2017-W25", "--to", "ed@example.org", "--transport", "file"), message, where)


def test_weekly_says_one_line_and_leaves_nothing_built(broken, run_cli, db):
    message, where = broken
    _one_line(run_cli("weekly", "--week", "2017-W25", "--transport", "file"), message, where)
    with db.connect() as conn:
        assert edition_db.load_edition(conn, "2017-W25") is None
    _one_line(run_cli("edition", "build", "--week", "2017-W25"), message, where)
    with db.connect() as conn:
        assert edition_db.load_edition(conn, "2017-W25") is None
