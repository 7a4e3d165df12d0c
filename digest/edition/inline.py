"""premailer: the email's CSS inlined into its tags (MJML's own <style> blocks kept as they are).

    inline_css(compiled_html, css, base_url, reuse=False) -> html

Split from render.py: this is the part that knows premailer's and cssutils'
ways (a doctype it keeps only in one spelling, a stylesheet it re-parses on
every call, attributes it would overwrite).
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import types
from functools import lru_cache
from pathlib import Path

from ..errors import RenderError
from . import diskcache

_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.I | re.S)
_IMPORT = re.compile(r"@import\b[^;]*;", re.I)
_FONT_LINK = re.compile(r"<link\b[^>]*fonts\.googleapis[^>]*>", re.I)
_STYLE_OPEN = re.compile(r"<style\b(?![^>]*data-premailer)", re.I)
_TABLE_OPEN = re.compile(r"<table\b(?![^>]*\brole=)", re.I)


_PREMAILER_CLASS = None


def _caching_premailer():
    """Premailer that parses a stylesheet once per process, not once per render.

    premailer re-parses our CSS and re-serialises every property with cssutils
    on each transform: about 10 of the 16 ms a variant costs. Every variant of
    every edition inlines the same few stylesheets, so the parsed rules are
    kept (a handful of entries: one per palette).
    """
    global _PREMAILER_CLASS
    if _PREMAILER_CLASS is None:
        class CachingPremailer(_import_premailer()):
            _rules: dict = {}

            def _parse_style_rules(self, css_body, ruleset_index):
                key = (css_body, ruleset_index, self.strip_important, self.disable_validation)
                hit = self._rules.get(key)
                if hit is None:
                    hit = super()._parse_style_rules(css_body, ruleset_index)
                    if len(self._rules) < 32:
                        self._rules[key] = hit
                return list(hit[0]), list(hit[1])

        _PREMAILER_CLASS = CachingPremailer
    return _PREMAILER_CLASS


class _Deferred(types.ModuleType):
    """Stands in for a module: the first attribute asked of it imports the module and answers from it."""

    def __getattr__(self, attr: str):
        if attr.startswith("__") or sys.modules.get(self.__name__) is self:
            raise AttributeError(attr)
        return getattr(importlib.import_module(self.__name__), attr)


def _import_premailer() -> type:
    """premailer's Premailer, without importing requests (some 5% of a `digest preview`).

    premailer imports requests at its top, for stylesheets it would fetch:
    digest never lets it (allow_network=False). While premailer is imported,
    requests is a _Deferred stand-in, so premailer holds one that imports
    requests if it is ever used.
    """
    stand_in = "requests" not in sys.modules
    if stand_in:
        sys.modules["requests"] = _Deferred("requests")
    try:
        from premailer import Premailer  # heavy (lxml, cssutils): only when an email is inlined
    finally:
        if stand_in and isinstance(sys.modules.get("requests"), _Deferred):
            del sys.modules["requests"]
    return Premailer


@lru_cache(maxsize=1)
def _stamp() -> tuple[str, ...]:
    """What shapes the output besides the input: this module's code and the versions of the libraries."""
    from importlib.metadata import version

    return (diskcache.key(Path(__file__).read_text(encoding="utf-8")),
            *(version(name) for name in ("premailer", "cssutils", "lxml")))


def inline_css(compiled: str, css: str, base_url: str, *, reuse: bool = False) -> str:
    """premailer pass: inline our CSS; leave MJML's own <style> blocks verbatim.

    reuse: look for this very input's output in the cache on disk first
    (diskcache), and keep it there: for `digest preview`, run again and again on
    the same edition, in a new process each time.
    """
    if not reuse:
        return _inline(compiled, css, base_url)
    digest = diskcache.key(compiled, css, base_url, *_stamp())
    out = diskcache.read("inlined", digest)
    if out is None:
        out = _inline(compiled, css, base_url)
        diskcache.write("inlined", digest, out)
    return out


def _inline(compiled: str, css: str, base_url: str) -> str:
    import cssutils

    # Only tags and <style> bodies are touched: article text is escaped, so
    # "<style" or "<table" cannot come from it, but "@import" could.
    doc = _STYLE_BLOCK.sub(lambda m: m.group(1) + _IMPORT.sub("", m.group(2)) + m.group(3), compiled)
    doc = _FONT_LINK.sub("", doc)
    # premailer keeps a doctype only if it reads exactly "<!DOCTYPE html>".
    doc = re.sub(r"^\s*<!doctype html>", "<!DOCTYPE html>", doc, count=1, flags=re.I)
    # MJML's reset and responsive styles stay as they are in <style> (inlining
    # the reset into every table cell would double the size for nothing).
    doc = _STYLE_OPEN.sub('<style data-premailer="ignore"', doc)
    doc = _TABLE_OPEN.sub('<table role="presentation"', doc)
    # cssutils logs to its own logger (stderr by default) whatever level premailer sets.
    cssutils.log.setLevel(logging.CRITICAL)
    try:
        out = _caching_premailer()(
            doc,
            base_url=base_url,
            css_text=css,
            strip_important=False,
            allow_network=False,
            disable_validation=True,
            # premailer would copy CSS width/height into the attributes: an <img> must keep
            # its pixel width and height (Outlook sizes by them), not "100%" and "auto".
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
            cssutils_logging_handler=logging.NullHandler(),
        ).transform()
    except Exception as exc:  # premailer raises bare lxml/cssutils errors
        raise RenderError(f"premailer: {exc}") from None
    # Style blocks inside Outlook's conditional comments are invisible to premailer.
    out = out.replace('<style data-premailer="ignore"', "<style")
    if not out.startswith("<!DOCTYPE html>"):
        raise RenderError("premailer dropped the doctype")
    return out
