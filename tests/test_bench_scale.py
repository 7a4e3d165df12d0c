"""scripts/bench --scale's member generator (issue 24: ten million members): what it writes is what digest reads.

The bench makes millions of members without holding them: a generator, written
straight into the table (COPY on PostgreSQL) or into a CSV file that the real
`digest members import` reads. These tests run it small, on the test database.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digest.db import members as member_db
from digest.db.schema import subscribers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_under_test", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_the_members_are_made_as_they_are_read_not_held(bench, settings):
    stream = bench.member_stream(10_000_000, settings.topic_slugs, ())
    assert inspect.isgenerator(stream)
    first = next(stream)
    assert first[:3] == (0, "member0000000@example.org", "Member 0")
    assert set(first[3]) <= set(settings.topic_slugs) and first[4] in ("daily", "weekly", "monthly")


def test_loaded_and_imported_members_continue_one_stream(bench, settings, db, run_cli, tmp_path):
    # The first members go straight into the table, the rest through `digest members import`:
    # together, the n members of the stream, each once, with the stream's details.
    stream = bench.member_stream(30, settings.topic_slugs, ())
    bench.load_members(db, stream, 20, batch=7)
    csv_path = tmp_path / "members.csv"
    bench.write_members_csv(csv_path, stream, 10, ())
    assert next(stream, None) is None
    result = run_cli("members", "import", csv_path)
    assert result.exit_code == 0, result.output
    assert "added 10, updated 0, unchanged 0, skipped 0" in result.output
    expected = {email: (topics, freq, fmt) for _, email, _, topics, freq, fmt, _ in
                bench.member_stream(30, settings.topic_slugs, ())}
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(subscribers)).scalar() == 30
        for email, (topics, freq, fmt) in expected.items():
            sub = member_db.get_by_email(conn, email)
            assert (sub.frequency, sub.format, sub.status) == (freq, fmt, "active")
            everything = settings.topic_slugs  # no topics chosen means all of them
            assert set(sub.topics or everything) == set(topics or everything)


def test_a_measured_command_reports_its_own_peak_memory_not_the_bench_s(bench, tmp_path, env):
    # The bench holds far more than `digest --help` needs: the kernel's ru_maxrss of the
    # command would report the bench's (Python starts it by vfork); its own VmHWM does not.
    sc = type("Sc", (), {"dir": tmp_path, "env": {**env, "PYTHONPATH": str(ROOT)}})()
    held = bytearray(300 * 1024 * 1024)
    held[::4096] = b"1" * len(held[::4096])  # resident, not only reserved
    seconds, rss_mb, out = bench.measured_command(sc, ["--help"], "help")
    assert "Usage: digest" in out and seconds > 0
    assert 10 < rss_mb < 150
    del held


def test_a_failed_command_stops_the_bench_with_its_error(bench, tmp_path, env):
    sc = type("Sc", (), {"dir": tmp_path, "env": {**env, "PYTHONPATH": str(ROOT)}})()
    with pytest.raises(SystemExit, match=r"bench step import exited 1:\n.*no-such\.csv"):
        bench.measured_command(sc, ["members", "import", str(tmp_path / "no-such.csv")], "import")
