"""Nothing reads all the members into memory (issue 24): import, sync and list keep a flat peak.

Each command runs in a process of its own on a small and a larger
membership (three times larger, both over a batch of 5,000); its peak
resident memory (VmHWM) may grow by a few MB at most.
Before they streamed, 25,000 more members cost import and sync 40 MB and list
110 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from digest.db.schema import subscribers

SMALL, LARGE = 10_000, 30_000
GROWTH_MB = 5  # SQLite's page cache, allocator slack: not a member's worth each

T0 = datetime(2017, 6, 26, 7, 0, tzinfo=timezone.utc)

# Runs one digest command (its output to /dev/null) and writes its peak resident memory in KB to stderr.
MEASURE = """
import sys
from digest.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="digest")
except SystemExit as exc:
    assert not exc.code, exc.code
finally:
    print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")), file=sys.stderr)
"""


def _peak_kb(env: dict, tmp_path, *args: str) -> int:
    done = subprocess.run([sys.executable, "-c", MEASURE, *args], env={**os.environ, **env}, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stderr.strip().splitlines()[-1])


def _peaks(db, env, tmp_path, count: int, already: int) -> dict[str, int]:
    _seed_range(db, already, count)
    export = tmp_path / f"members-{count}.csv"
    with export.open("w") as fh:
        fh.write("email,name,frequency\n")
        for i in range(count):
            fh.write(f"member{i:07d}@example.org,Member {i},weekly\n")
    return {
        "import": _peak_kb(env, tmp_path, "members", "import", str(export)),
        "sync": _peak_kb(env, tmp_path, "members", "sync", str(export), "--complete", "--quiet"),
        "list": _peak_kb(env, tmp_path, "members", "list", "--json"),
    }


def _seed_range(db, start: int, stop: int) -> None:
    """Active members number start to stop-1, fast (one executemany), as an import leaves them."""
    rows = [dict(email=f"member{i:07d}@example.org", email_key=f"member{i:07d}@example.org", name=f"Member {i}",
                 status="active", topics="", frequency="weekly", format="html", paused=False,
                 consent_source="import", consent_at=T0, created_at=T0, updated_at=T0, token_version=1,
                 hard_bounces=0, language="", attributes="{}") for i in range(start, stop)]
    with db.begin() as conn:
        conn.execute(insert(subscribers), rows)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc")
def test_import_sync_and_list_keep_a_flat_peak_from_ten_to_thirty_thousand_members(db, env, tmp_path):
    small = _peaks(db, env, tmp_path, SMALL, 0)
    large = _peaks(db, env, tmp_path, LARGE, SMALL)
    growth = {cmd: round((large[cmd] - small[cmd]) / 1024, 1) for cmd in small}
    assert all(mb < GROWTH_MB for mb in growth.values()), f"peak memory grew by (MB) {growth}"
