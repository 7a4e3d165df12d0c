"""Installed as users install it: a built wheel in a fresh virtualenv, run from an empty folder.

Catches what an editable checkout hides: templates left out of the wheel,
modules imported by accident through the editable finder, files looked up
next to the source tree.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.wheel


def run(cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy without setuptools' build/ folder: a checkout's build/lib keeps files
    # since renamed or deleted (a migration renumbered), which would land in the wheel too.
    source = tmp_path_factory.mktemp("source") / "digest"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "node_modules", ".mutants", "outbox", "__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)])
    [built] = out.glob("digest-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv (no access to the checkout) with the wheel and its dependencies installed."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)])
    return venv


def test_the_wheel_carries_every_template_and_migration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"digest/templates/{p.relative_to(REPO / 'templates')}" for p in (REPO / "templates").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    migrations = {f"digest/{p.relative_to(REPO / 'digest')}" for p in (REPO / "digest" / "migrations").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts}
    assert templates and templates <= names, sorted(templates - names)
    assert migrations <= names, sorted(migrations - names)
    assert "digest/defaults.toml" in names
    # the message catalogue: the template, each language's .po and its compiled .mo
    catalogue = {f"digest/{p.relative_to(REPO / 'digest')}" for p in (REPO / "digest" / "locale").rglob("*")
                 if p.is_file()}
    assert "digest/locale/messages.pot" in catalogue and catalogue <= names, sorted(catalogue - names)
    # every package of the source tree is in the wheel
    packages = {f"digest/{p.relative_to(REPO / 'digest')}" for p in (REPO / "digest").rglob("*.py")
                if "__pycache__" not in p.parts}
    assert packages <= names, sorted(packages - names)


def test_the_installed_digest_runs_the_weekly_mailing_from_an_empty_folder(installed, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{installed / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def digest(*args: str) -> subprocess.CompletedProcess:
        return run(["digest", *args], cwd=empty, env=env)

    where = run([str(installed / "bin" / "python"), "-c", "import digest; print(digest.__file__)"],
                cwd=empty, env=env).stdout.strip()
    assert where.startswith(str(installed)), f"digest imported from {where}, not the virtualenv"

    assert "weekly" in digest("--help").stdout
    digest("ingest", str(REPO / "samples" / "news.xml"))
    digest("subscribers", "import", str(REPO / "samples" / "members.csv"))
    digest("preview", "--week", "2017-W25", "--out", "preview.html")
    assert "<!DOCTYPE html>" in (empty / "preview.html").read_text()
    digest("edition", "build", "--week", "2017-W25")
    assert "queued" in digest("queue", "2017-W25").stdout
    sent = digest("send", "--transport", "file").stdout
    assert "sent " in sent and "failed 0" in sent

    assert (empty / "subscribers.db").is_file()  # the default database, where the command ran
    emls = sorted((empty / "outbox").glob("*.eml"))
    assert emls, "nothing was written to the outbox"
    msg = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() in ("multipart/alternative", "text/plain")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()
    assert "Unsubscribe" in text or "unsubscribe" in text
