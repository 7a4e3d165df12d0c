"""A build holds its new variants from render to the one write compressed (editorial.build._Held): what is
written is what was rendered, and a text variant's HTML, never stored, is not held."""

from __future__ import annotations

from digest.editorial.build import _Held
from digest.models import Rendered

RENDERED = Rendered(subject="Cyber essentials — and 9 more", preheader="Siân's week",
                    html="<html>" + "<p>Ysgrifennu’n gymraeg</p>" * 400 + "</html>", text="A week of news\n" * 300)


def test_an_html_variant_is_written_as_rendered_and_held_in_a_fraction_of_its_size():
    held = _Held.of(RENDERED, "html")
    assert held.rendered() == RENDERED
    assert len(held.html) + len(held.text) < (len(RENDERED.html) + len(RENDERED.text)) / 5


def test_a_text_variant_holds_no_html():
    held = _Held.of(RENDERED, "text")
    assert held.rendered() == Rendered(RENDERED.subject, RENDERED.preheader, "", RENDERED.text)
