"""The shape of the email: by-topic groups, "In this issue", the logo."""

from __future__ import annotations

from dataclasses import replace

from lxml import html as lxml_html

from digest.edition.render import render_variant

from test_render import seed_items, week25


def texts(doc, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in doc.xpath(xpath)]


def test_by_topic_groups_in_taxonomy_order_each_article_once(settings):
    s = replace(settings, layout="by-topic")
    doc = lxml_html.document_fromstring(render_variant(week25(seed_items()), s).html)
    items = seed_items()
    # the lead story first (pinned), then one heading per topic, in the taxonomy's order
    assert texts(doc, "//h2[contains(@class,'headline')]") == [items[0].title]
    assert texts(doc, "//h2[@class='group']") == ["Smart places", "Digital transformation", "Emerging technology",
                                                 "Skills and leadership"]
    headlines = texts(doc, "//*[contains(@class,'headline')]")
    assert sorted(headlines) == sorted(i.title for i in items)  # each once
    assert texts(doc, "//ul[contains(@class,'toc-list')]/li") == headlines  # the list follows the order shown
    # under "Smart places" the mayor's label names only its other topic
    mayor = doc.xpath("//h3[contains(.,'Milton Keynes mayor')]/preceding-sibling::p[@class='topics']")
    assert texts(mayor[0], ".") == ["Member news"]


def test_by_topic_uses_the_members_topics(settings):
    s = replace(settings, layout="by-topic")
    items = seed_items()
    mine = [items[0], items[1]]  # the mayor: member news and smart places; this member chose member news
    doc = lxml_html.document_fromstring(render_variant(week25(), s, items=mine, member_topics=("member-news",
                                                                                               "data-protection")).html)
    assert texts(doc, "//h2[@class='group']") == ["Member news"]


def test_newest_layout_has_no_groups_and_four_articles_no_list(settings):
    doc = lxml_html.document_fromstring(render_variant(week25(seed_items()[:4]), settings).html)
    assert doc.xpath("//h2[@class='group']") == [] and doc.xpath("//ul") == []
    doc = lxml_html.document_fromstring(render_variant(week25(seed_items()), settings).html)
    assert len(doc.xpath("//ul[contains(@class,'toc-list')]/li")) == 5


def test_logo_in_the_masthead(settings):
    s = replace(settings, logo_url="https://www.example.org/logo@2x.png", logo_width=160, logo_height=40)
    doc = lxml_html.document_fromstring(render_variant(week25(), s).html)
    (logo,) = doc.xpath("//img[@class='logo']")
    assert (logo.get("src"), logo.get("width"), logo.get("height"), logo.get("alt")) == (
        "https://www.example.org/logo@2x.png", "160", "40", "Public Digital Leaders Network")
    assert logo.xpath("ancestor::*[contains(@class,'dm-brand')]")  # on the brand colour in both palettes
