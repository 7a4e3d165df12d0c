"""The editor's words for an edition: subject, preheader and note, set before the build and frozen with it."""

from __future__ import annotations

import email
import email.policy

from digest.edition.note import clean_note, note_as_text, note_problem, parse_note


def test_a_note_is_paragraphs_and_links_and_nothing_else():
    note = "Welcome back.\r\n\r\n\r\nRead [our report](https://example.org/r) or https://example.org/agm.\n"
    assert clean_note(note) == "Welcome back.\n\nRead [our report](https://example.org/r) or https://example.org/agm."
    assert parse_note(note) == [
        [("Welcome back.", None)],
        [("Read ", None), ("our report", "https://example.org/r"), (" or ", None),
         ("https://example.org/agm", "https://example.org/agm"), (".", None)],
    ]
    assert note_as_text(note) == ["Welcome back.", "Read our report (https://example.org/r) or https://example.org/agm."]
    assert parse_note("<b>bold</b> *not markdown*") == [[("<b>bold</b> *not markdown*", None)]]  # escaped when shown
    assert parse_note("") == [] and parse_note(None) == []


def test_a_note_may_link_only_to_the_web_and_stay_short():
    assert note_problem("See [this](javascript:alert(1)).").startswith("link ")
    assert note_problem("See [this](mailto:x@example.org).").startswith("link ")
    assert note_problem("x" * 2001).startswith("is 2001 characters")
    assert note_problem("See [this](https://example.org/).") is None


def _sent(tmp_path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "outbox").glob("*.eml"))]


def test_set_before_the_build_then_sent_in_both_parts(run_cli, seed_path, tmp_path):
    assert run_cli("ingest", seed_path, "--published", "2017-06-21").exit_code == 0
    assert run_cli("subscribers", "add", "ada@example.org", "--name", "Ada").exit_code == 0
    assert run_cli("subscribers", "add", "tim@example.org", "--format", "text").exit_code == 0
    note = tmp_path / "note.md"
    note.write_text("Welcome to the summer edition <3.\n\nRead [our annual report](https://www.example.org/report).\n")
    result = run_cli("edition", "set", "2017-W25", "--subject", "GDPR in a year", "--preheader",
                     "Summer: GDPR, smart places and the annual report", "--note-file", str(note))
    assert result.exit_code == 0, result.output
    assert "subject:   GDPR in a year" in result.output
    assert run_cli("weekly", "--week", "2017-W25", "--transport", "file").exit_code == 0

    html_msg, text_msg = sorted(_sent(tmp_path), key=lambda m: m.get_content_type())
    for msg in (html_msg, text_msg):
        assert msg["Subject"] == "GDPR in a year"
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "Welcome to the summer edition <3.\n\nRead our annual report (https://www.example.org/report)." in text
        assert text.index("Welcome to the summer edition") < text.index("Queen’s speech")  # above the articles
    html = html_msg.get_body(("html",)).get_content()
    assert "Welcome to the summer edition &lt;3." in html  # escaped, not markup
    assert '<a href="https://www.example.org/report"' in html and ">our annual report</a>" in html
    assert "Summer: GDPR, smart places and the annual report" in html  # the inbox preview text
    assert text_msg.get_content_type() == "text/plain"

    # Frozen with the queued edition: refused, and nothing changed.
    result = run_cli("edition", "set", "2017-W25", "--subject", "Something else")
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: edition 2017-W25: was queued at")
    assert "subject:   GDPR in a year" in run_cli("edition", "show", "2017-W25").output


def test_bad_words_are_one_line_and_change_nothing(run_cli):
    result = run_cli("edition", "set", "2017-W25", "--note", "Read [this](javascript:alert(1)).")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "the note link" in result.output and "only http(s)" in result.output
    result = run_cli("edition", "set", "2017-W25", "--subject", "x" * 151)
    assert result.exit_code == 1 and "the subject is 151 characters; at most 150" in result.output
    result = run_cli("edition", "set", "not-a-period", "--subject", "Hello")
    assert result.exit_code != 0 and "not-a-period" in result.output
    assert "subject:   (made from digest.subject)" in run_cli("edition", "show", "2017-W25").output
    assert run_cli("edition", "set", "2017-W25").exit_code == 2  # nothing to set: a usage error
