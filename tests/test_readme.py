"""Every `bash` example in the README runs as written, in order, on the demo's data.

The demo's data is its configuration (samples/digest.toml: the sample feed
as a source) and the sample members, in a fresh database, with mail going
into outbox/ (DIGEST_TRANSPORT=file). A command
that fails, or prints a traceback, fails the test; `digest serve` must start
serving and is then stopped.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def readme_commands(text: str) -> list[str]:
    """The `digest ...` lines of the README's ```bash blocks (continuations joined, comments dropped)."""
    out = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value before the command
                words.pop(0)
            if words and words[0] == "digest":
                out.append(line)
    return out


def test_the_parser_finds_commands_and_only_commands():
    text = "```bash\nscripts/demo\ndigest ingest a.xml   # a comment\nX=1 digest serve \\\n  --demo\n```\n" \
           "```text\ndigest not-run\n```\n"
    assert [shlex.split(c, comments=True) for c in readme_commands(text)] == [
        ["digest", "ingest", "a.xml"], ["X=1", "digest", "serve", "--demo"]]


def test_every_bash_example_runs_as_written(env, tmp_path):
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 20, "the README lost its examples?"
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    environ = {**os.environ, **env, "DIGEST_TRANSPORT": "file", "DIGEST_OUTBOX": "outbox", "COLUMNS": "120",
               "DIGEST_CONFIG": "samples/digest.toml"}  # the demo's configuration: the sample feed as a source

    def digest(args: list[str], *, line: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "digest", *args], cwd=tmp_path, env=environ,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, \
            f"README: {line}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return done

    # The demo's data: the sample feed and members, nothing sent yet.
    digest(["sources", "fetch"], line="(setup)")
    digest(["subscribers", "import", "samples/members.csv"], line="(setup)")

    for line in commands:
        words = shlex.split(line, comments=True)
        extra = {}
        while re.match(r"^[A-Z_]+=", words[0]):
            key, _, value = words.pop(0).partition("=")
            extra[key] = value
        args = words[1:]
        if args[:1] == ["serve"]:
            proc = subprocess.Popen([sys.executable, "-m", "digest", *args, "--port", "0"], cwd=tmp_path,
                                    env={**environ, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            try:
                assert "serving" in proc.stdout.readline(), f"README: {line}: {proc.stderr.read()}"
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            continue
        environ.update(extra)
        digest(args, line=line)

    # What the examples did, as a reader would check it.
    assert list((tmp_path / "outbox").glob("*.eml")), "the README's mailing sent nothing"
    assert (tmp_path / "preview.html").is_file() and list((tmp_path / "screenshots").glob("*.png"))


@pytest.mark.parametrize("script", ["scripts/demo", "scripts/test"])
def test_the_readme_opens_with_the_two_commands(script):
    opening = README.read_text(encoding="utf-8").split("\n## ", 1)[0]
    assert f"\n{script} " in opening or f"\n{script}\n" in opening
    assert os.access(REPO / script, os.X_OK)
