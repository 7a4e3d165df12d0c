"""Branding without a fork: [digest] templates_dir is looked up first, the shipped templates second."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import html as lxml_html

from digest.checks.message import check_message
from digest.config import load_settings
from digest.edition.render import render_variant
from digest.errors import ConfigError

from test_check import ITEMS, build
from test_render import week25

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "branding-example"


def visible(html: str) -> str:
    return " ".join(lxml_html.document_fromstring(html).text_content().split())


def test_the_readme_example_changes_masthead_and_footer_only(settings):
    shipped = render_variant(week25(), settings).html
    branded = render_variant(week25(), replace(settings, templates_dir=str(EXAMPLE))).html
    assert "News for digital leaders · 19–25 June 2017" in visible(branded)
    assert "Stop these emails" in visible(branded) and "Change what you get" in visible(branded)
    assert "Manage your preferences" not in visible(branded) and "Weekly digest" not in visible(branded)
    assert "Manage your preferences" in visible(shipped)
    # the shipped article block and dark palette are still there
    for item in week25().items[:5]:
        assert item.title in visible(branded)
    assert "prefers-color-scheme: dark" in branded


def test_checks_still_guard_what_branding_produces(settings, tmp_path):
    own = tmp_path / "branding" / "partials"
    shutil.copytree(EXAMPLE / "partials", own)
    s = replace(settings, templates_dir=str(own.parent))
    ok = build("html", settings=s, html=lambda _: render_variant(week25(), s).html)
    assert "Stop these emails" in ok.decode()
    assert check_message(ok, s, article_titles=[i.title for i in ITEMS], article_urls=[i.url for i in ITEMS]) == []
    footer = own / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace('<a href="{{ unsubscribe_url }}" class="nowrap">Stop these emails</a>',
                                                 "").replace("{{ address }}", "somewhere"))
    from digest.edition.render import _environment

    _environment.cache_clear()  # the loader caches compiled templates per folder
    bad = build("html", settings=s, html=lambda _: render_variant(week25(), s).html)
    codes = {f.code for f in check_message(bad, s, article_titles=[i.title for i in ITEMS],
                                           article_urls=[i.url for i in ITEMS])}
    assert {"unsubscribe-link", "postal-address"} <= codes


def test_templates_dir_must_be_a_folder(tmp_path):
    cfg = tmp_path / "digest.toml"
    cfg.write_text('[digest]\ntemplates_dir = "branding"\n')
    with pytest.raises(ConfigError, match="digest.templates_dir"):
        load_settings(cfg, environ={})
    (tmp_path / "branding").mkdir()
    assert load_settings(cfg, environ={}).templates_dir == str(tmp_path / "branding")  # relative to the file
