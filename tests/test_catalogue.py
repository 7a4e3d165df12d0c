"""The message catalogue: every word a reader sees is in it, and each language's translation is whole.

Extraction runs Babel on the sources as `pybabel extract -F digest/locale/babel.cfg` would; the
committed digest/locale/messages.pot must hold exactly what it finds (a new string in Python or a
template fails here until the .pot is extracted again and each .po updated, see digest/i18n.py).
"""

from __future__ import annotations

import ast
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
           "web/confirm_email.txt", "web/feed.xml"] + [
           f"web/desk/{p.name}" for p in sorted((TEMPLATES / "web" / "desk").glob("*.html"))]  # the editors' pages
_NOT_PROSE = [re.compile(p, re.S) for p in (r"<(mj-style|style|mj-attributes|mj-raw)\b.*?</\1>", r"<!--.*?-->",
                                             r"<[^>]*>", r"&#?\w+;", r"/[\w./-]+",
                                             r'\s[\w-]+="[^"<>]*"',  # an attribute a block adds to a tag
                                             r"\x00")]


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


# Python that speaks to editors: what these functions pass to note() (the desk's messages), click.echo/secho
# (the CLI's lines to editors), a warnings list's append, a joined email text or a table's title must come from
# the catalogue (gettext, ngettext), not an English literal. None: every function of the module. What stays
# English is drawn in digest/i18n.py's docstring: operators' diagnostics (errors, the relay's counts, sources).
EDITOR_PY = {
    "digest/web/desk/*.py": None,
    "digest/editorial/week.py": {"summary_warnings"},
    "digest/editorial/gate.py": {"hold_reasons"},
    "digest/editorial/candidates.py": {"edition_warnings"},
    "digest/editorial/editors.py": {"held_notice", "link_text", "link_subject"},
    "digest/editorial/report.py": {"report_html"},
    "digest/cli/printing.py": {"print_queue", "print_edition"},
    "digest/cli/mailing.py": {"edition_build", "edition_set", "_print_text", "send_test", "run"},
    "digest/cli/preview.py": {"preview", "_screenshots", "_print_table"},
}
_SINKS = {"note", "echo", "secho", "append", "join", "Table"}
_GETTEXT = {"gettext", "ngettext", "pgettext", "npgettext", "_", "N_"}
_TAGS = ("warning: ", "Error: ")  # a line's tag for logs and greps: the same in every language


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _literals(node: ast.AST):
    """The literal text in an expression, leaving out calls (a gettext call translates; another's arguments are
    names, encodings, form fields), comparisons, a dict's keys and a subscript's key (form["topics"])."""
    if isinstance(node, (ast.Call, ast.Compare)):
        return
    if isinstance(node, ast.Subscript):
        yield from _literals(node.value)
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
        return
    for field, value in ast.iter_fields(node):
        if isinstance(node, ast.Dict) and field == "keys":
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                yield from _literals(child)


def untranslated(source: str, functions: set[str] | None) -> list[str]:
    """English literals that the functions (None: all) show an editor without the catalogue."""
    found = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or (functions and fn.name not in functions):
            continue
        for call in ast.walk(fn):
            if not isinstance(call, ast.Call):
                continue
            shown = call.args[:1] if _name(call.func) in _SINKS else []
            shown += [k.value for k in call.keywords if k.arg in ("title", "errors")]
            shown = [a for arg in shown for a in (arg.args if isinstance(arg, ast.Call) and
                                                  _name(arg.func) not in _GETTEXT else [arg])]
            for text in (t for arg in shown for t in _literals(arg)):
                for tag in _TAGS:
                    text = text.replace(tag, " ")
                if _WORDS.search(text):
                    found.append(f"{fn.name}: {text!r}")
    return found


def _editor_modules() -> list[tuple[str, set[str] | None]]:
    return [(str(path.relative_to(REPO)), functions) for pattern, functions in EDITOR_PY.items()
            for path in sorted(REPO.glob(pattern))]


@pytest.mark.parametrize("path,functions", _editor_modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_english_literal_shown_to_an_editor(path, functions):
    words = untranslated((REPO / path).read_text(encoding="utf-8"), functions)
    assert words == [], f"{path}: {words[:5]} reach an editor untranslated; wrap them in gettext (digest/i18n.py)"


def test_the_python_check_sees_english_left_outside():
    source = """
def f(words, n):
    note(f"Saved {n}.")
    note(words.gettext("Saved %(n)s.") % {"n": n}, "ok")
    click.echo("warning: " + words.ngettext("%(n)d left", "%(n)d left", n) % {"n": n})
    click.secho(f"warning: {n}")
    out.append("Too short.")
    click.echo(str("Built"), err=request.get("email") == "x")
"""
    assert untranslated(source, None) == ["f: 'Saved '", "f: 'Too short.'", "f: 'Built'"]


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
