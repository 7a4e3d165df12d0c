"""The progress line of `digest send` when stderr is not a terminal (cron, a log file): one log line every few
seconds with what has been done, never a line of zeros before anything happened."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_short_send_logs_no_line_of_zeros(queue_members, env, tmp_path):
    queue_members(5)
    done = subprocess.run([sys.executable, "-m", "digest", "send", "--transport", "file"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sent 5, retry later 0, failed 0, skipped 0 (via file: " in done.stdout
    lines = [line for line in done.stderr.splitlines() if " retry later, " in line]
    assert lines, done.stderr  # the first callback after work was done logs a line...
    assert not any(" 0 sent, 0 retry later, 0 failed, 0 skipped" in line for line in lines), lines  # ...not zeros
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 5
