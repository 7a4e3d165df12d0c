"""Webhook payloads shaped as each provider documents them (written here, not copied), signed with test keys.

- SNS/SES: an RSA key and a self-signed certificate made here; the message's
  string to sign is built here from SNS's documented field order (not by
  digest's code), so a mistake in digest's is caught.
- Mailgun: HMAC-SHA256 of timestamp + token with a signing key.
- SendGrid: an ECDSA P-256 key pair made here; the verification key goes
  into digest.toml as SendGrid shows it (base64 DER).
- Postmark: no signature; basic authentication and a secret path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:eu-west-2:123456789012:digest-feedback"
OTHER_TOPIC = "arn:aws:sns:eu-west-2:999999999999:someone-else"
CERT_URL = "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-7a1b2c3d4e5f60718293a4b5c6d7e8f9.pem"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark-hooks", "correct horse battery staple"
POSTMARK_SECRET = "p0stmark-hook-path-8c7f1e2d9b"


class SnsKeys:
    """SNS's signing key and certificate, made for the test."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=30)).sign(self.key, hashes.SHA256()))
        self.pem = cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: dict, version: str = "1") -> dict:
        if message["Type"] == "Notification":
            names = ["Message", "MessageId"] + (["Subject"] if "Subject" in message else []) + \
                    ["Timestamp", "TopicArn", "Type"]
        else:
            names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        text = "".join(f"{n}\n{message[n]}\n" for n in names).encode()
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(text, padding.PKCS1v15(), algorithm)
        return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                "SigningCertURL": message.get("SigningCertURL", CERT_URL)}


def sns_notification(ses_event: dict, *, topic: str = TOPIC, message_id: str | None = None) -> dict:
    return {"Type": "Notification", "MessageId": message_id or str(uuid.uuid4()), "TopicArn": topic,
            "Message": json.dumps(ses_event), "Timestamp": "2017-06-26T09:00:00.000Z",
            "UnsubscribeURL": "https://sns.eu-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"}


def sns_subscription(*, topic: str = TOPIC, subscribe_url: str | None = None) -> dict:
    return {"Type": "SubscriptionConfirmation", "MessageId": str(uuid.uuid4()), "Token": "2336412f37fb687f5d51e6e2",
            "TopicArn": topic, "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": subscribe_url or f"https://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription"
                                             f"&TopicArn={topic}&Token=2336412f37fb687f5d51e6e2",
            "Timestamp": "2017-06-26T08:59:00.000Z"}


def ses_mail(*, tag: str | None = None, message_id: str | None = None, to: str = "") -> dict:
    mail = {"timestamp": "2017-06-26T08:58:00.000Z", "source": "news@example.org",
            "messageId": "0102015c" + uuid.uuid4().hex, "destination": [to],
            "commonHeaders": {"from": ["news@example.org"], "to": [to], "subject": "The digest"}}
    if message_id:
        mail["commonHeaders"]["messageId"] = message_id
    if tag:
        mail["tags"] = {"ses:configuration-set": ["digest"], "digest": [tag]}
    return mail


def ses_event(kind: str, to: str, *, tag: str | None = None, message_id: str | None = None, status: str = "5.1.1",
              sub_type: str = "General") -> dict:
    """eventType Bounce (Permanent/Transient/suppressed), Complaint, Delivery, DeliveryDelay, Send."""
    event = {"eventType": kind.split("/")[0], "mail": ses_mail(tag=tag, message_id=message_id, to=to)}
    if kind.startswith("Bounce"):
        bounce_type = kind.split("/")[1]
        event["bounce"] = {"bounceType": bounce_type, "bounceSubType": sub_type, "feedbackId": "fb-" + uuid.uuid4().hex,
                           "timestamp": "2017-06-26T08:59:00.000Z",
                           "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": status,
                                                  "diagnosticCode": f"smtp; 550 {status} mailbox unavailable"}]}
    elif kind == "Complaint":
        event["complaint"] = {"complainedRecipients": [{"emailAddress": to}], "complaintFeedbackType": "abuse",
                              "feedbackId": "fb-" + uuid.uuid4().hex, "timestamp": "2017-06-26T09:00:00.000Z"}
    elif kind == "Delivery":
        event["delivery"] = {"recipients": [to], "smtpResponse": "250 2.0.0 OK", "timestamp": "2017-06-26T08:58:01Z"}
    elif kind == "Subscription":  # SES list management: the recipient used SES's unsubscribe link
        event["subscription"] = {"contactList": "members", "timestamp": "2017-06-26T09:02:00Z",
                                 "source": "UnsubscribeHeader",
                                 "newTopicPreferences": {"unsubscribeAll": True}, "oldTopicPreferences": {}}
    elif kind == "DeliveryDelay":
        event["deliveryDelay"] = {"delayType": "MailboxFull", "delayedRecipients": [{"emailAddress": to,
                                                                                      "status": "4.2.2"}]}
    return event


# ---------------------------------------------------------------- Postmark


def postmark(record: str, to: str, *, tag: str | None = None, type_: str = "HardBounce", details: str = "",
             suppress: bool = True, reason: str = "HardBounce", event_id: int = 4323372036) -> bytes:
    base = {"RecordType": record, "MessageID": str(uuid.uuid5(uuid.NAMESPACE_DNS, to)), "MessageStream": "broadcast",
            "Metadata": {"digest": tag} if tag else {}, "Tag": ""}
    if record in ("Bounce", "SpamComplaint"):
        body = {**base, "ID": event_id, "Type": type_, "TypeCode": 1, "Email": to, "From": "news@example.org",
                "BouncedAt": "2017-06-26T09:00:00Z", "Details": details, "Description": "The server was unable "
                "to deliver your message", "Inactive": True, "CanActivate": True, "Subject": "The digest"}
    elif record == "SubscriptionChange":
        body = {**base, "Recipient": to, "Origin": "Recipient", "SuppressSending": suppress,
                "SuppressionReason": reason, "ChangedAt": "2017-06-26T09:01:00Z"}
    else:  # Delivery
        body = {**base, "Recipient": to, "DeliveredAt": "2017-06-26T08:58:00Z", "Details": "smtp;250 2.0.0 OK",
                "ServerID": 23}
    return json.dumps(body).encode()


def basic(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---------------------------------------------------------------- Mailgun


def mailgun(event: str, to: str, *, tag: str | None = None, message_id: str | None = None, severity: str = "",
            reason: str = "", code: int = 550, message: str = "5.1.1 The email account does not exist",
            event_id: str | None = None, timestamp: int | None = None, token: str | None = None,
            key: str = MAILGUN_KEY) -> bytes:
    ts = str(timestamp if timestamp is not None else int(datetime.now(timezone.utc).timestamp()))
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]
    data = {"event": event, "id": event_id or uuid.uuid4().hex[:22], "timestamp": float(ts), "recipient": to,
            "user-variables": {"digest": tag} if tag else {},
            "message": {"headers": {"message-id": (message_id or "").strip("<>"), "to": to,
                                    "from": "news@example.org", "subject": "The digest"}},
            "tags": ["digest"]}
    if event == "failed":
        data.update(severity=severity, reason=reason or "bounce",
                    **{"delivery-status": {"code": code, "message": message, "description": "",
                                           "attempt-no": 1}})
    signature = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": ts, "token": token, "signature": signature},
                       "event-data": data}).encode()


# ---------------------------------------------------------------- SendGrid


class SendgridKeys:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = base64.b64encode(der).decode()  # as SendGrid shows it

    def headers(self, body: bytes, timestamp: int | None = None) -> dict:
        ts = str(timestamp if timestamp is not None else int(datetime.now(timezone.utc).timestamp()))
        sig = self.key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": ts, "Content-Type": "application/json"}


def sendgrid_event(event: str, to: str, *, tag: str | None = None, message_id: str | None = None, **extra) -> dict:
    e = {"email": to, "timestamp": 1498467600, "event": event, "sg_event_id": uuid.uuid4().hex,
         "sg_message_id": uuid.uuid4().hex[:22] + ".filterdrecv-p3mdw1-1-5"}
    if message_id:
        e["smtp-id"] = message_id
    if tag:
        e["digest"] = tag  # our unique_args come back as fields of the event
    e.update(extra)
    return e
