"""Reports as relays and mailbox providers send them back, written for digest's tests.

Each function returns the bytes of one message. They follow the shapes real
systems use (RFC 3464 DSNs as Postfix writes them, Exchange/Outlook's NDR
wording, Gmail's older plain-text bounce, qmail, an ARF report as feedback
loops send it, out-of-office replies), but every line here is our own: the
addresses, hosts and texts are made up for these tests.

`original` is the message digest sent (bytes), quoted back where the shape
quotes it; `to` is where the report is delivered (the VERP address).
"""

from __future__ import annotations

import email
import email.policy
import os
import threading

DATE = "Tue, 20 Jun 2017 09:14:03 +0100"


def _headers_of(original: bytes) -> str:
    head = original.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return head.decode("ascii", "replace").replace("\r\n", "\n")


def _crlf(s: str) -> bytes:
    return s.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _return_path(original: bytes, envelope_from: str) -> bytes:
    """The original as the receiving server stored it: Return-Path added at the top."""
    return f"Return-Path: <{envelope_from}>\r\n".encode() + original


def postfix_dsn(*, to: str, recipient: str, original: bytes, status: str = "5.1.1", action: str = "failed",
                diagnostic: str | None = None, message_id: str = "<20170620081403.5C1F2A0@mx1.relay.example.com>") -> bytes:
    diagnostic = diagnostic or (f"smtp; 550 {status} <{recipient}>: Recipient address rejected: "
                                "User unknown in virtual mailbox table")
    if action == "failed":
        human = (f"I'm sorry to have to inform you that your message could not\n"
                 f"be delivered to one or more recipients. It's attached below.\n\n"
                 f"<{recipient}>: host mx.example.net[192.0.2.25] said: {diagnostic[6:]}\n"
                 f"    (in reply to RCPT TO command)\n")
        subject = "Undelivered Mail Returned to Sender"
        extra = ""
    else:
        human = ("####################################################################\n"
                 "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
                 "####################################################################\n\n"
                 "Your message could not be delivered for more than 4 hour(s).\n"
                 "It will be retried until it is 5 day(s) old.\n\n"
                 f"<{recipient}>: connect to mx.example.net[192.0.2.25]:25: Connection timed out\n")
        subject = "Delayed Mail (still being retried)"
        extra = "Will-Retry-Until: Sun, 25 Jun 2017 09:14:03 +0100 (BST)\n"
    return _crlf(f"""Return-Path: <>
Delivered-To: {to}
Received: by mx1.relay.example.com (Postfix) id 5C1F2A0; {DATE}
Date: {DATE}
From: MAILER-DAEMON@relay.example.com (Mail Delivery System)
Subject: {subject}
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="5C1F2A0.1497946443/mx1.relay.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: {message_id}

This is a MIME-encapsulated message.

--5C1F2A0.1497946443/mx1.relay.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx1.relay.example.com.

{human}
--5C1F2A0.1497946443/mx1.relay.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.relay.example.com
X-Postfix-Queue-ID: 5C1F2A0
X-Postfix-Sender: rfc822; {to}
Arrival-Date: Mon, 19 Jun 2017 07:00:12 +0100 (BST)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.net
Diagnostic-Code: {diagnostic}
{extra}
--5C1F2A0.1497946443/mx1.relay.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{_headers_of(original)}

--5C1F2A0.1497946443/mx1.relay.example.com--
""")


def gmail_plain(*, to: str, recipient: str, original: bytes, status: str = "5.2.1",
                sentence: str = "The email account that you tried to reach is disabled.",
                message_id: str = "<001a113f3c2e4a9f0c0552b2c1d8@google.example>") -> bytes:
    """Gmail's older bounce: plain text, no delivery-status part, the original quoted inline."""
    code = status.replace(".", "")[:1] + "50"
    return _crlf(f"""Delivered-To: {to}
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {to}
Subject: Delivery Status Notification (Failure)
Date: {DATE}
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Auto-Submitted: auto-replied

Delivery to the following recipient failed permanently:

     {recipient}

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient domain example.net by mx.example.net. [192.0.2.44].

The error that the other server returned was:
{code}-{status} {sentence} Please try double-checking the
{code}-{status} recipient's email address for typos or unnecessary spaces.
{code} {status} Learn more at https://support.example.com/mail/bounces x12si3330qkb.55 - gsmtp

----- Original message -----

{_headers_of(original)}
""")


def exchange_ndr(*, to: str, recipient: str, original: bytes, status: str = "5.1.10",
                 reply: str = "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
                 message_id: str = "<7c1e0a7d-3f8e-4c51-b5c2-0d2f4aa8e1b7@AM6PR01MB1234.eurprd01.prod.example.com>") -> bytes:
    """Exchange Online's NDR as some gateways pass it on: plain and HTML text, no delivery-status part."""
    boundary = "_000_7c1e0a7d3f8e4c51b5c20d2f4aa8e1b7_"
    return _crlf(f"""Delivered-To: {to}
From: Microsoft Outlook <postmaster@outlook.example>
To: {to}
Date: {DATE}
Content-Type: multipart/mixed; boundary="{boundary}"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-GB
Message-ID: {message_id}
Subject: Undeliverable: Public Digital Leaders Network: week of 19 June 2017
Auto-Submitted: auto-replied
X-MS-Exchange-Organization-SCL: -1
MIME-Version: 1.0

--{boundary}
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Your message to {recipient} couldn't be delivered.
{recipient.split("@")[0]} wasn't found at {recipient.split("@")[1]}.

Action Required
Unknown To address

How to Fix It
The address may be misspelled or may not exist. Try one or more of the foll=
owing:

Delivery has failed to these recipients or groups:

{recipient} ({recipient})

Diagnostic information for administrators:

Generating server: AM6PR01MB1234.eurprd01.prod.example.com

{recipient}
Remote Server returned '{status[0]}50 {status} {reply} [AM6PR01MB1234.eurprd01.prod.example.com]'

Original message headers:

{_headers_of(original)}

--{boundary}
Content-Type: message/rfc822

{_headers_of(original)}

(body omitted)

--{boundary}--
""")


def qmail_bounce(*, to: str, recipient: str, original: bytes,
                 message_id: str = "<20170620081503.19224.qmail@mail.example.net>") -> bytes:
    return _crlf(f"""Return-Path: <>
Delivered-To: {to}
Date: 20 Jun 2017 08:15:03 -0000
From: MAILER-DAEMON@mail.example.net
To: {to}
Subject: failure notice
Message-ID: {message_id}

Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{recipient}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

{_headers_of(original)}
""")


def arf_complaint(*, recipient: str | None, original: bytes, envelope_from: str,
                  feedback_type: str = "abuse", to: str = "fbl@news.example.org",
                  message_id: str = "<fbl.20170621.000012@feedback.mailbox.example>") -> bytes:
    """A feedback-loop report (RFC 5965) with the original attached, recipient optionally redacted."""
    rcpt = f"Original-Rcpt-To: {recipient}\n" if recipient else ""
    stored = _return_path(original, envelope_from).decode("utf-8", "replace").replace("\r\n", "\n")
    if recipient is None:  # providers that redact the member's address in the copy
        stored = "\n".join("To: redacted@mailbox.example" if line.startswith("To:") else line
                           for line in stored.split("\n"))
    return _crlf(f"""From: Feedback Loop <feedback@mailbox.example>
To: {to}
Date: Wed, 21 Jun 2017 11:02:45 +0000
Subject: FW: Public Digital Leaders Network: week of 19 June 2017
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
 boundary="----=_Part_4471_arf"

------=_Part_4471_arf
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.80 on Wed, 21 Jun 2017 10:58:12 +0000. A user of this mailbox
marked the message as spam.

------=_Part_4471_arf
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: MailboxFBL/2.1
Version: 1
Original-Mail-From: <{envelope_from}>
{rcpt}Arrival-Date: Wed, 21 Jun 2017 10:58:12 +0000
Reported-Domain: news.example.org
Source-IP: 192.0.2.80

------=_Part_4471_arf
Content-Type: message/rfc822
Content-Disposition: inline

{stored}
------=_Part_4471_arf--
""")


def out_of_office(*, to: str, sender: str, original_message_id: str,
                  message_id: str = "<AM6PR01MB9876.auto@mail.example.net>", headers: str | None = None) -> bytes:
    headers = headers if headers is not None else "Auto-Submitted: auto-replied\nX-MS-Exchange-Inbox-Rules-Loop: " + sender
    return _crlf(f"""Delivered-To: {to}
From: Ada Lovelace <{sender}>
To: {to}
Subject: Automatic reply: Public Digital Leaders Network: week of 19 June 2017
Date: {DATE}
Message-ID: {message_id}
In-Reply-To: {original_message_id}
References: {original_message_id}
{headers}
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Thank you for your message. I am out of the office until 3 July with no access
to email. For anything urgent please contact the service desk.
""")


def vacation_reply(*, to: str, sender: str, message_id: str = "<vacation.4411@mail.example.net>") -> bytes:
    """An old-style vacation responder: no Auto-Submitted, only X-Autoreply and an "Out of Office" subject."""
    return _crlf(f"""Delivered-To: {to}
From: {sender}
To: {to}
Subject: Out of Office: Re: Public Digital Leaders Network
Date: {DATE}
Message-ID: {message_id}
X-Autoreply: yes
Precedence: bulk

I am away until Monday. I will not be reading mail.
""")


def unsubscribe_request(*, sender: str, to: str, subject: str = "unsubscribe",
                        message_id: str = "<CAF3k1x9Zq@mail.gmail.example>") -> bytes:
    return _crlf(f"""From: Ada Lovelace <{sender}>
To: {to}
Subject: {subject}
Date: {DATE}
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"

This message was automatically generated by Gmail.
""")


def garbled(message_id: str = "<garbled.1@nowhere.example>") -> bytes:
    """Headers, then a multipart body whose boundary never comes: a report cut off in transit."""
    return _crlf(f"""From: somebody@nowhere.example
Subject: =?utf-8?B?w6nDqcOp?= ???
Message-ID: {message_id}
Content-Type: multipart/report; boundary="never-closed"

--never-closed
Content-Type: text/plain

\u00ff\u00fe binary noise
""")


def binary_junk() -> bytes:
    return bytes(range(256)) * 4


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def fifo(path) -> str:
    """A named pipe that a reader opening it by mistake finds empty instead of waiting on forever.

    A thread waits to open it for writing and closes it at once: code that wrongly reads it gets
    end-of-file and the test fails on what it sees, in a moment (scripts/mutants counts a hang
    only after minutes). Code that never opens it leaves the thread waiting, harmlessly.
    """
    os.mkfifo(path)

    def writer() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY))
        except FileNotFoundError:  # moved or cleaned away before this thread got to open it: nobody to answer
            pass

    threading.Thread(target=writer, daemon=True).start()
    return str(path)
