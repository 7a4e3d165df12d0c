"""digest.bounces.parse: every shape of returned message, read as bytes, classified without a database."""

from __future__ import annotations

import pytest

import bounce_samples as s
from digest.bounces.parse import Addresses, parse_report

ADDR = Addresses(bounce="bounces@news.example.org", unsubscribe="leave@news.example.org",
                 base_url="https://news.example.org")
VERP = "bounces+2n-abcdefghijklmnop@news.example.org"
UNSUB_TOKEN = "17.1.q0HqM3a9f0vP0fSxJpBvN1cYb9kYv2c3d4e5f6g7h8A"
ORIGINAL = (
    "From: Public Digital Leaders Network <news@example.org>\r\n"
    "To: Ada Lovelace <ada@example.net>\r\n"
    "Subject: Public Digital Leaders Network: week of 19 June 2017\r\n"
    "Date: Mon, 19 Jun 2017 07:00:00 +0100\r\n"
    "Message-ID: <edition.2017-W25.95@example.org>\r\n"
    "List-Id: Public Digital Leaders Network digest <digest.example.org>\r\n"
    f"List-Unsubscribe: <https://news.example.org/unsubscribe/{UNSUB_TOKEN}>\r\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Ada,\r\n"
).encode()


def test_postfix_dsn_user_unknown_is_a_permanent_bounce_for_the_verp_delivery():
    r = parse_report(s.postfix_dsn(to=VERP, recipient="ada@example.net", original=ORIGINAL), ADDR)
    assert (r.kind, r.shape, r.status, r.recipient) == ("bounce", "postfix", "5.1.1", "ada@example.net")
    assert r.permanent
    assert r.verp_tokens == ("2n-abcdefghijklmnop",)
    assert r.message_id == "<20170620081403.5C1F2A0@mx1.relay.example.com>"
    assert r.diagnostic.startswith("550 5.1.1 <ada@example.net>: Recipient address rejected")
    assert r.original_message_ids == ("<edition.2017-W25.95@example.org>",)
    assert r.unsubscribe_tokens == (UNSUB_TOKEN,)


def test_postfix_delay_is_a_delay_not_a_bounce():
    r = parse_report(s.postfix_dsn(to=VERP, recipient="ada@example.net", original=ORIGINAL, status="4.4.1",
                                   action="delayed", diagnostic="X-Postfix; connect timed out"), ADDR)
    assert (r.kind, r.status, r.permanent) == ("delay", "4.4.1", False)


def test_dsn_with_several_recipients_reports_the_worst():
    raw = s.postfix_dsn(to=VERP, recipient="ada@example.net", original=ORIGINAL).replace(
        b"Final-Recipient: rfc822; ada@example.net",
        b"Final-Recipient: rfc822; other@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
        b"Final-Recipient: rfc822; ada@example.net")
    r = parse_report(raw, ADDR)
    assert (r.kind, r.recipient) == ("bounce", "ada@example.net")


def test_gmail_plain_text_bounce_without_a_delivery_status_part():
    r = parse_report(s.gmail_plain(to=VERP, recipient="ada@example.net", original=ORIGINAL), ADDR)
    assert (r.kind, r.shape, r.status, r.recipient) == ("bounce", "gmail", "5.2.1", "ada@example.net")
    assert "disabled" in r.diagnostic
    assert r.verp_tokens == ("2n-abcdefghijklmnop",)


def test_exchange_ndr_in_outlook_words():
    r = parse_report(s.exchange_ndr(to=VERP, recipient="ada@example.net", original=ORIGINAL), ADDR)
    assert (r.kind, r.shape, r.status, r.recipient) == ("bounce", "exchange", "5.1.10", "ada@example.net")
    assert r.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")


def test_exchange_mailbox_full_is_a_bounce_of_a_kind_that_only_counts():
    r = parse_report(s.exchange_ndr(to=VERP, recipient="ada@example.net", original=ORIGINAL, status="5.2.2",
                                    reply="STOREDRV.Deliver; mailbox full"), ADDR)
    assert (r.kind, r.status) == ("bounce", "5.2.2")


def test_qmail_bounce():
    r = parse_report(s.qmail_bounce(to=VERP, recipient="ada@example.net", original=ORIGINAL), ADDR)
    assert (r.kind, r.shape, r.status, r.recipient) == ("bounce", "qmail", "5.1.1", "ada@example.net")


def test_arf_abuse_report_is_a_complaint_with_the_quoted_return_path_and_unsubscribe_token():
    r = parse_report(s.arf_complaint(recipient="ada@example.net", original=ORIGINAL, envelope_from=VERP), ADDR)
    assert (r.kind, r.shape, r.feedback_type, r.recipient) == ("complaint", "arf", "abuse", "ada@example.net")
    assert r.verp_tokens == ("2n-abcdefghijklmnop",)
    assert r.unsubscribe_tokens == (UNSUB_TOKEN,)
    assert r.original_message_ids == ("<edition.2017-W25.95@example.org>",)


def test_arf_with_the_address_redacted_still_carries_the_evidence():
    r = parse_report(s.arf_complaint(recipient=None, original=ORIGINAL, envelope_from=VERP), ADDR)
    assert r.kind == "complaint" and r.verp_tokens == ("2n-abcdefghijklmnop",)


def test_arf_of_another_feedback_type_is_not_a_complaint():
    r = parse_report(s.arf_complaint(recipient="ada@example.net", original=ORIGINAL, envelope_from=VERP,
                                     feedback_type="auth-failure"), ADDR)
    assert r.kind == "unknown" and "auth-failure" in r.reason


def test_out_of_office_is_an_ignored_auto_reply():
    r = parse_report(s.out_of_office(to=VERP, sender="ada@example.net",
                                     original_message_id="<edition.2017-W25.95@example.org>"), ADDR)
    assert (r.kind, r.actionable) == ("auto-reply", False)
    assert "Auto-Submitted: auto-replied" in r.reason
    assert r.original_message_ids == ("<edition.2017-W25.95@example.org>",)


def test_old_vacation_responder_without_auto_submitted():
    r = parse_report(s.vacation_reply(to=VERP, sender="ada@example.net"), ADDR)
    assert r.kind == "auto-reply" and "X-Autoreply" in r.reason


def test_out_of_office_that_mentions_failure_words_is_still_not_a_bounce():
    raw = s.out_of_office(to=VERP, sender="ada@example.net", original_message_id="<x@y>").replace(
        b"no access", b"mail to me could not be delivered; no access")
    assert parse_report(raw, ADDR).kind == "auto-reply"


def test_unsubscribe_by_mail_to_the_list_unsubscribe_mailto():
    r = parse_report(s.unsubscribe_request(sender="Ada@Example.net", to="leave@news.example.org"), ADDR)
    assert (r.kind, r.recipient, r.sender) == ("unsubscribe", "ada@example.net", "ada@example.net")


def test_a_stray_mail_saying_unsubscribe_elsewhere_is_not_an_unsubscribe():
    r = parse_report(s.unsubscribe_request(sender="ada@example.net", to="someone@else.example"), ADDR)
    assert r.kind == "unknown"


@pytest.mark.parametrize("raw, why", [
    (b"", "empty"),
    (s.binary_junk(), "no mail headers"),
    (b"this is not an email at all\r\njust words\r\n", "no mail headers"),
])
def test_garbage_is_unknown_with_a_reason(raw, why):
    r = parse_report(raw, ADDR)
    assert r.kind == "unknown" and why in r.reason


def test_cut_off_report_is_unknown_not_a_guess():
    r = parse_report(s.garbled(), ADDR)
    assert r.kind == "unknown" and r.message_id == "<garbled.1@nowhere.example>"


def test_a_bounce_that_says_nothing_usable_is_unknown():
    raw = (b"From: MAILER-DAEMON@relay.example.com\r\nTo: " + VERP.encode() + b"\r\nSubject: Returned mail\r\n"
           b"Message-ID: <m1@relay.example.com>\r\n\r\nSee attached.\r\n")
    r = parse_report(raw, ADDR)
    assert r.kind == "unknown" and "neither a status" in r.reason


def test_success_dsn_is_delivered_and_changes_nothing():
    raw = s.postfix_dsn(to=VERP, recipient="ada@example.net", original=ORIGINAL, status="2.0.0",
                        action="delivered", diagnostic="smtp; 250 2.0.0 Ok")
    r = parse_report(raw, ADDR)
    assert (r.kind, r.actionable) == ("delivered", False)


def test_verp_token_survives_lower_casing_and_qp_soft_breaks():
    raw = s.qmail_bounce(to=VERP.upper().replace("BOUNCES+", "bounces+"), recipient="ada@example.net",
                         original=ORIGINAL)
    assert parse_report(raw, ADDR).verp_tokens == ("2N-ABCDEFGHIJKLMNOP",)
    split = s.qmail_bounce(to="x@y.example", recipient="ada@example.net",
                           original=ORIGINAL.replace(b"MIME-Version", b"X-Quoted: bounces+2n-abcdefgh=\r\nijklmnop@news.example.org\r\nMIME-Version"))
    assert parse_report(split, ADDR).verp_tokens == ("2n-abcdefghijklmnop",)


from hypothesis import given, settings as h_settings, strategies as st  # noqa: E402


@h_settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_parse_never_raises_on_any_bytes(raw):
    r = parse_report(raw, ADDR)
    assert r.kind in ("bounce", "delay", "delivered", "complaint", "unsubscribe", "auto-reply", "unknown")


@h_settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=4000), st.binary(min_size=1, max_size=40))
def test_a_report_cut_or_corrupted_anywhere_never_raises(cut, noise):
    raw = s.postfix_dsn(to=VERP, recipient="ada@example.net", original=ORIGINAL)
    r = parse_report(raw[:cut] + noise + raw[cut + len(noise):], ADDR)
    assert r.kind in ("bounce", "delay", "delivered", "complaint", "unsubscribe", "auto-reply", "unknown")


def test_shape_comes_from_who_wrote_it_not_from_the_addresses_in_it():
    r = parse_report(s.postfix_dsn(to=VERP, recipient="ada@gmail.com", original=ORIGINAL,
                                   diagnostic="smtp; 550-5.1.1 The email account does not exist gsmtp google"), ADDR)
    assert (r.kind, r.shape, r.recipient) == ("bounce", "postfix", "ada@gmail.com")
