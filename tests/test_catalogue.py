"""The message catalogue: every word a reader sees is in it, and each language's translation is whole.

Extraction runs Babel on the sources as `pybabel extract -F digest/locale/babel.cfg` would; the
committed digest/locale/messages.pot must hold exactly what it finds (a new string in Python or a
template fails here until the .pot is extracted again and each .po updated, see digest/i18n.py).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from digest.i18n import LOCALE_DIR, catalogued, language

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
POT = LOCALE_DIR / "messages.pot"


def _key(message) -> tuple:
    return (message.context, message.id if isinstance(message.id, str) else tuple(message.id))


def extracted() -> Catalog:
    with (LOCALE_DIR / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    catalog = Catalog()
    for _file, _line, message, comments, context in extract_from_dir(str(REPO), method_map, options_map,
                                                                     comment_tags=("TRANSLATORS:",)):
        catalog.add(message, None, context=context, auto_comments=comments)
    return catalog


def committed(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def test_the_committed_template_holds_exactly_what_extraction_finds():
    found = {_key(m) for m in extracted() if m.id}
    pot = {_key(m) for m in committed(POT) if m.id}
    assert found - pot == set(), ("strings not in digest/locale/messages.pot: extract it again (digest/i18n.py) "
                                  f"and update each .po: {sorted(map(str, found - pot))[:10]}")
    assert pot - found == set(), f"strings in messages.pot nothing uses any more: {sorted(map(str, pot - found))[:10]}"


# Template text a reader sees must be inside {% trans %} or _(): a word left in a template's plain
# text is one no catalogue can translate. What is not prose: tags, entities, CSS, the text part's rules.
CHECKED = ["digest.mjml.j2", "digest.txt.j2", "announcement.mjml.j2", "announcement.txt.j2", "partials/masthead.mjml.j2", "partials/footer.mjml.j2",
           "partials/blocks.mjml.j2"] + [f"web/{p.name}" for p in (TEMPLATES / "web").glob("*.html")] + [
           "web/confirm_email.txt", "web/feed.xml"]
_NOT_PROSE = [re.compile(p, re.S) for p in (r"<(mj-style|style|mj-attributes|mj-raw)\b.*?</\1>", r"<!--.*?-->",
                                             r"<[^>]*>", r"&#?\w+;", r"/[\w./-]+", r"\x00")]


def _plain_text(source: str) -> str:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    parts, depth = [], 0
    for _line, kind, value in env.lex(source):
        if kind == "name" and value == "trans" and parts and parts[-1] == "\x00{%":
            depth += 1
        elif kind == "name" and value == "endtrans":
            depth -= 1
        if kind == "data" and depth == 0:
            parts.append(value)
        elif kind in ("block_begin", "variable_begin"):
            parts.append("\x00{%" if kind == "block_begin" else "\x00")
    text = "".join(parts).replace("\x00{%", "\x00")
    for pattern in _NOT_PROSE:
        text = pattern.sub(" ", text)
    return text


_WORDS = re.compile(r"[A-Za-z][a-z]+(?:\s+[A-Za-z][a-z]+)*")


@pytest.mark.parametrize("name", CHECKED)
def test_no_words_outside_the_catalogue_in_a_template(name):
    words = _WORDS.findall(_plain_text((TEMPLATES / name).read_text(encoding="utf-8")))
    assert words == [], f"templates/{name}: {words[:5]} is plain text; wrap it in _() or {{% trans %}}"


def test_the_plain_text_check_sees_words_left_outside():
    source = "<p>Read more</p>{{ _('Fine') }}{% trans %}Also fine{% endtrans %}<style>p { color: red }</style>"
    assert _WORDS.findall(_plain_text(source)) == ["Read more"]


# ---- each language's translation -------------------------------------------------------------


def _po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))


@pytest.mark.parametrize("po", _po_files(), ids=lambda p: p.parent.parent.name)
def test_a_translation_is_whole_and_its_compiled_file_is_current(po):
    catalog = committed(po)
    pot = {_key(m) for m in committed(POT) if m.id}
    keys = {_key(m) for m in catalog if m.id}
    assert keys == pot, f"{po}: run pybabel update (missing {sorted(map(str, pot - keys))[:5]})"
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple)
                                                                          else (m.string,)))]
    assert untranslated == [], f"{po}: {len(untranslated)} untranslated or fuzzy, e.g. {untranslated[:3]}"
    plural_count = catalog.num_plurals
    if po.parent.parent.name == "cy":  # CLDR: zero, one, two, few, many, other
        assert plural_count == 6 == len(language("cy").locale.plural_form.tags | {"other"})
    for m in catalog:
        if m.id and isinstance(m.id, (list, tuple)):
            assert len(m.string) == plural_count, f"{po}: {m.id[0]!r} needs {plural_count} plural forms"
    errors = [(m.id, errs) for m, errs in catalog.check()]
    assert errors == [], f"{po}: placeholders differ from the English: {errors[:3]}"
    buf = io.BytesIO()
    write_mo(buf, catalog)
    with (po.with_suffix(".mo")).open("rb") as fh:
        shipped = read_mo(fh)
    buf.seek(0)
    fresh = read_mo(buf)
    def pairs(c: Catalog) -> set:
        return {(_key(m), m.string if isinstance(m.string, str) else tuple(m.string)) for m in c if m.id}

    assert pairs(shipped) == pairs(fresh), (
        f"{po.with_suffix('.mo')} is older than its .po: pybabel compile -d digest/locale -D messages")


def test_every_catalogue_loads():
    for tag in catalogued():
        assert language(tag).gettext("Other news") != "Other news", tag
