"""The one exception tree of digest.

Every error a user can cause or meet is a DigestError; the CLI turns it into a
one-line message and exit status 1 (or its
`exit_code`, 75 for a busy database), the web app into a friendly page.

    DigestError
    ├── ConfigError(path, key, reason)        digest.toml or environment is wrong
    ├── IngestError(source, reason, line)     a source cannot be read or is not a feed
    ├── SelectionError(reason)                a bad window, week key or topic
    ├── RenderError(reason)                   a template or MJML failed
    ├── SubscriberError(email, reason, line)  a bad address, topic, frequency, name
    ├── EditionError(key, reason)             unknown edition, or changed after queueing
    ├── AnnouncementError(what, reason)       a bad announcement field or audience, or a wrong state
    ├── DeliveryError(reason)                 a transport could not be set up
    ├── TokenError(reason)                    a forged, expired or revoked link
    ├── CheckError(target, failures)          a message fails the deliverability checks
    ├── EditorError(email, reason)            no such editor, a weak password, a used link
    ├── MailboxError(where, reason)           the bounce mailbox (IMAP, Maildir, files) cannot be read
    ├── WebhookError(provider, reason, status) a provider's webhook failed verification or cannot be read
    ├── ApiTokenError(name, reason)           an API token name taken, malformed or unknown
    └── DatabaseError(reason)                 the database cannot be opened or used
        └── DatabaseBusyError(reason)         another process holds the write lock (exit 75: try again)
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error digest reports to a user."""

    def __str__(self) -> str:  # one line, always
        return " ".join(super().__str__().split())


class ConfigError(DigestError):
    def __init__(self, path: str, key: str, reason: str):
        self.path, self.key, self.reason = path, key, reason
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{key}: {reason}")


class IngestError(DigestError):
    def __init__(self, source: str, reason: str, line: int | None = None):
        self.source, self.reason, self.line = source, reason, line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {reason}")


class SelectionError(DigestError):
    pass


class RenderError(DigestError):
    pass


class SubscriberError(DigestError):
    def __init__(self, email: str, reason: str, line: int | None = None):
        self.email, self.reason, self.line = email, reason, line
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{email or '(no address)'}: {reason}")


class EditionError(DigestError):
    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(f"edition {key}: {reason}")


class AnnouncementError(DigestError):
    """`what` names the input: "announcement 4", "--audience", "--cta-url"..."""

    def __init__(self, what: str, reason: str):
        self.what, self.reason = what, reason
        super().__init__(f"{what}: {reason}")


class DeliveryError(DigestError):
    pass


class TokenError(DigestError):
    pass


class EditorError(DigestError):
    def __init__(self, email: str, reason: str):
        self.email, self.reason = email, reason
        super().__init__(f"editor {email or '(no address)'}: {reason}")


class CheckError(DigestError):
    def __init__(self, target: str, failures: list[str]):
        self.target, self.failures = target, failures
        super().__init__(f"{target}: {len(failures)} check(s) failed: " + "; ".join(failures))


class MailboxError(DigestError):
    def __init__(self, where: str, reason: str):
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


class WebhookError(DigestError):
    """A mail provider's webhook request refused: 401/403 (not verified) or 400 (not its documented shape)."""

    def __init__(self, provider: str, reason: str, status: int = 403):
        self.provider, self.reason, self.status = provider, reason, status
        super().__init__(f"{provider} webhook: {reason}")


class DatabaseError(DigestError):
    """The database at DIGEST_DATABASE_URL cannot be opened or used (not a database, refused, ...)."""


class DatabaseBusyError(DatabaseError):
    """Another process holds the write lock for longer than the busy timeout: nothing was changed."""

    exit_code = 75  # EX_TEMPFAIL: cron or the operator may simply try again


class ApiTokenError(DigestError):
    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"API token {name!r}: {reason}")
