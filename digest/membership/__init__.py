"""The membership system's doors into digest: sync from its export, webhooks out, API tokens.

    plan.py      pure: read an export with the configured column mapping, decide what a sync changes
    sync.py      read the export (file, or HTTPS through digest.outbound), plan, brake, apply
    webhooks.py  Standard Webhooks signing and the outbox worker that delivers them in order
    tokens.py    API tokens: made once, only a hash kept, scopes

Every change goes through digest.db.members, the same functions the CLI and
the pages call, so consent and status rules are the same from every door.
"""
