"""Rendering's cache on disk (digest/edition/diskcache.py): a hit is byte for byte what the work gives.

`digest preview` keeps the email's inlined HTML and Jinja2's compiled
templates, so that the next preview, a new process, neither imports premailer
nor compiles the templates again (issue 24: a preview under 0.5 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ok
from digest.edition import diskcache
from digest.edition.inline import inline_css

ROOT = Path(__file__).resolve().parent.parent
PAGE = ('<!doctype html><html lang="en-GB"><head><style type="text/css">@media (max-width:480px) '
        '{ .x { padding: 0 !important; } }</style></head><body><p class="x">Hello</p></body></html>')
CSS = ".x { color: #111111; }"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A cache folder of the test's own (diskcache reads DIGEST_CACHE_DIR once a process)."""
    where = tmp_path / "cache"
    monkeypatch.setenv("DIGEST_CACHE_DIR", str(where))
    _forget()
    yield where
    _forget()


def _forget() -> None:
    """What a new process would not know: the folder, and the environments holding the old one's cache."""
    from digest.edition.render import _environment

    diskcache.folder.cache_clear()
    diskcache.templates.cache_clear()
    _environment.cache_clear()


def test_inlined_html_is_kept_and_a_hit_is_what_premailer_gives(folder):
    fresh = inline_css(PAGE, CSS, "https://news.example.org")
    assert list(folder.glob("inlined-*.txt")) == []  # only asked for (the preview), never by a build or a send
    assert inline_css(PAGE, CSS, "https://news.example.org", reuse=True) == fresh
    (kept,) = folder.glob("inlined-*.txt")
    assert kept.read_text(encoding="utf-8") == fresh
    assert inline_css(PAGE, CSS, "https://news.example.org", reuse=True) == fresh
    other = inline_css(PAGE, CSS.replace("111111", "222222"), "https://news.example.org", reuse=True)
    assert other != fresh and len(list(folder.glob("inlined-*.txt"))) == 2  # the CSS is part of the key


def test_a_hit_does_not_load_premailer(folder):
    """What the cache is for: the process that finds the email inlined never imports premailer (nor cssutils)."""
    script = ("import sys; from digest.edition.inline import inline_css; "
              f"inline_css({PAGE!r}, {CSS!r}, 'https://news.example.org', reuse=True); "
              "print(sorted(m for m in ('premailer', 'cssutils') if m in sys.modules))")
    env = {**os.environ, "DIGEST_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["['cssutils', 'premailer']", "[]"]


def test_premailer_does_not_load_requests_it_never_uses(folder):
    script = ("import sys; from digest.edition.inline import inline_css; "
              f"inline_css({PAGE!r}, {CSS!r}, 'https://news.example.org'); "
              "print('requests' in sys.modules); import premailer.premailer as p; "
              "print(p.requests.codes.ok, p.requests.get is sys.modules['requests'].get)")
    out = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "200", "True"]  # premailer's requests is the real one the moment it is used


def test_preview_again_is_the_same_email_as_without_the_cache(run_cli, seed_path, folder, monkeypatch):
    ok(run_cli("ingest", seed_path, "--published", "2017-06-21"))
    runs = []
    for cache in (str(folder), str(folder), ""):  # made, found, none
        monkeypatch.setenv("DIGEST_CACHE_DIR", cache)
        _forget()
        runs.append((ok(run_cli("preview", "--week", "2017-W25", "--out", "p.html")).output,
                     Path("p.html").read_bytes()))
        assert list(folder.glob("inlined-*.txt")) and list(folder.glob("jinja-*.cache"))
    assert diskcache.folder() is None
    assert runs[0] == runs[1] == runs[2]


def test_damaged_or_unwritable_entries_are_misses_never_errors(folder):
    fresh = inline_css(PAGE, CSS, "https://news.example.org", reuse=True)
    (kept,) = folder.glob("inlined-*.txt")
    kept.write_bytes(b"\xff\xfe not utf-8")
    assert inline_css(PAGE, CSS, "https://news.example.org", reuse=True) == fresh  # read again from the work
    from digest.edition.render import _environment

    source = _environment().get_template("digest.txt.j2").render  # compiled and kept
    (compiled,) = folder.glob("jinja-*.cache")
    for cut in (40, 14, 0):  # magic and checksum and half the code; half the checksum's pickle; nothing
        compiled.write_bytes(compiled.read_bytes()[:cut])
        _environment.cache_clear()
        assert _environment().get_template("digest.txt.j2").render.__code__.co_code == source.__code__.co_code
    shutil.rmtree(folder)  # gone under a running process (a cleaner, a full disk): nothing can be written
    assert inline_css(PAGE, CSS + " ", "https://news.example.org", reuse=True)
    _environment.cache_clear()
    assert _environment().get_template("digest.mjml.j2")
    assert not folder.exists()


def test_a_folder_others_may_write_to_is_not_used(folder, monkeypatch):
    folder.mkdir(mode=0o700)
    assert diskcache.folder() == folder
    folder.chmod(0o777)
    diskcache.folder.cache_clear()
    assert diskcache.folder() is None
    monkeypatch.delenv("DIGEST_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder.parent / "xdg"))
    diskcache.folder.cache_clear()
    assert diskcache.folder() == folder.parent / "xdg" / "digest"
    assert (folder.parent / "xdg" / "digest").stat().st_mode & 0o777 == 0o700


def test_each_kind_keeps_its_newest_entries(folder, monkeypatch):
    monkeypatch.setattr(diskcache, "MAX_ENTRIES", 2)
    for n in range(4):
        diskcache.write("inlined", diskcache.key(str(n)), f"email {n}")
        os.utime(folder / f"inlined-{diskcache.key(str(n))}.txt", (n, n))  # distinct ages
    assert sorted(p.read_text() for p in folder.glob("inlined-*.txt")) == ["email 2", "email 3"]
    assert diskcache.read("inlined", diskcache.key("1")) is None
    assert diskcache.key("ab", "c") != diskcache.key("a", "bc")
