"""Transports are registered once: the kinds' table feeds --transport, digest.transport and the sender.

A new kind is one class implementing a contract (base.Transport, or
base.AsyncTransport for many connections at once) and its line in KINDS.
"""

from __future__ import annotations

from sqlalchemy import func, select

from digest.db.schema import SENT, deliveries
from digest.sending import transports
from digest.sending.transports import AsyncConnection, AsyncTransport, Kind, MemoryTransport, sender_transport
from digest.sending.transports.pipelined import RelayConnection, SmtpRelay
from digest.sending.transports.threaded import ThreadedConnection
from digest.sending.worker import SendOptions, send_queue

PIGEONS = MemoryTransport()


def test_the_contracts_are_declared():
    assert issubclass(SmtpRelay, AsyncTransport)
    assert issubclass(RelayConnection, AsyncConnection) and issubclass(ThreadedConnection, AsyncConnection)
    assert isinstance(MemoryTransport(), transports.Transport)


def test_a_new_kind_is_one_line_in_the_table(monkeypatch, queue_members, db, settings, run_cli):
    monkeypatch.setitem(transports.KINDS, "pigeon", Kind("pigeon", "by bird", lambda s: PIGEONS))
    assert "[smtp|file|pigeon]" in run_cli("send", "--help").output  # the command line's choices
    queue_members(4)
    stats = send_queue(db, settings, sender_transport("pigeon", settings), SendOptions(connections=2))
    assert stats.sent == 4 and len(PIGEONS.sent) == 4  # sent through the synchronous contract, in threads
    with db.connect() as conn:
        assert conn.execute(select(func.count()).where(deliveries.c.status == SENT)).scalar() == 4


def test_an_unknown_configured_transport_is_a_config_error(run_cli, monkeypatch):
    monkeypatch.setenv("DIGEST_TRANSPORT", "pigeon")
    result = run_cli("send")
    assert result.exit_code == 2
    assert "digest.transport: must be smtp or file, not 'pigeon'" in result.output
    assert run_cli("send", "--transport", "pigeon").exit_code == 2  # not a choice
