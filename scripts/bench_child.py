"""One measured step of scripts/bench, run in a process of its own.

    python scripts/bench_child.py queue KEY
    python scripts/bench_child.py send LIMIT CONNECTIONS [PROCESSES]
    python scripts/bench_child.py claim LIMIT
    python scripts/bench_child.py pages KEY [KEY ...]
    python scripts/bench_child.py build KEY
    python scripts/bench_child.py command PEAK_FILE DIGEST_ARGS...

Prints one JSON line: what was done, the seconds the step itself took (not
the interpreter's start-up), the process's peak resident memory (VmHWM) and,
for a send, the CPU seconds the sender processes used (the sink's are not
counted: it stands for a relay on another machine).
Settings come from the environment (DIGEST_DATABASE_URL, DIGEST_SMTP_URL, ...).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone


def own_kb() -> int:
    """Peak resident memory (VmHWM) of this process alone, in KB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def children_kb() -> int:
    """Peak resident memory of the largest finished child (a sender process), in KB; 0 without any."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def vmhwm_kb() -> int:
    """Peak resident memory of this process or of its largest child (sender processes), in KB."""
    return max(own_kb(), children_kb())


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (the sender processes)."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def claim_all(db, limit: int, *, now, batch: int = 500) -> int:
    """Claim up to `limit` queued deliveries in batches as a sender does (scripts/bench --years)."""
    from digest.db import deliveries as delivery_db

    claimed = 0
    while claimed < limit:
        with db.begin() as conn:
            got = delivery_db.claim(conn, now=now, lease_seconds=300, limit=min(batch, limit - claimed),
                                    claimant="bench")
        if not got:
            break
        claimed += len(got)
    return claimed


def pages(db, settings, keys: list[str]) -> dict:
    """Seconds for `digest report KEY` (each key), `digest status` (all editions) and the desk's week page.

    In this process, after the imports: what the database costs, not the start-up.
    The desk page is a GET of /desk/?period=KEY (the first key) by a signed-in
    editor through the Flask app, after one GET to warm it as a running server is.
    """
    import re

    from digest.db import deliveries as delivery_db
    from digest.db import editors as editor_db
    from digest.editorial.editors import hash_password
    from digest.editorial.report import edition_report
    from digest.web import create_app

    out = {}
    for i, key in enumerate(keys):
        t0 = time.perf_counter()
        edition_report(db, settings, key)
        out[f"report_{i}_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with db.connect() as conn:  # what `digest status` reads
        delivery_db.counts(conn, None)
        delivery_db.retry_summary(conn)
    out["status_seconds"] = time.perf_counter() - t0
    now = datetime.now(timezone.utc)
    with db.begin() as conn:
        if editor_db.get_by_email(conn, "bench@example.org") is None:
            e = editor_db.add(conn, "bench@example.org", "Bench Editor", now=now)
            editor_db.set_password(conn, e.id, hash_password("a long enough passphrase"))
    client = create_app(settings, db).test_client()
    page = client.get("/desk/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post("/desk/sign-in", data={"csrf": csrf, "email": "bench@example.org",
                                       "password": "a long enough passphrase"})
    client.get(f"/desk/?period={keys[0]}")
    t0 = time.perf_counter()
    resp = client.get(f"/desk/?period={keys[0]}")
    out["desk_seconds"] = time.perf_counter() - t0
    if resp.status_code != 200:
        raise SystemExit(f"desk week page: HTTP {resp.status_code}")
    return out


def command(peak_file: str, args: list[str]) -> None:
    """`digest ARGS...` as run from a shell; at exit its own peak RSS (VmHWM, KB) is written to peak_file.

    Why not the kernel's ru_maxrss of the process: on Linux it keeps the
    high-water mark of the image before exec, and Python starts a command by
    vfork from the bench, so it would report the bench's memory when larger.
    """
    import atexit
    import runpy

    atexit.register(lambda: open(peak_file, "w").write(str(own_kb())))
    sys.argv = ["digest", *args]
    runpy.run_module("digest", run_name="__main__", alter_sys=True)


def main(argv: list[str]) -> None:
    if argv[0] == "command":
        command(argv[1], argv[2:])
        return
    from digest.config import load_settings
    from digest.db import Database

    settings = load_settings()
    db = Database(settings.database_url)
    now = datetime.now(timezone.utc)
    step = argv[0]
    if step == "queue":
        from digest.editorial.build import queue_edition

        t0 = time.perf_counter()
        report = queue_edition(db, settings, argv[1], now=now)
        seconds = time.perf_counter() - t0
        out = {"queued": report.queued, "variants_rendered": report.variants}
    elif step == "send":
        from digest.sending.processes import send_all, transports_for
        from digest.sending.worker import SendOptions

        limit, connections, processes = int(argv[1]), int(argv[2]), int(argv[3]) if len(argv) > 3 else 1
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        stats = send_all(db, settings, transports_for("smtp", settings),
                         SendOptions(connections=connections, limit=limit, batch=500, processes=processes,
                                     check=False))
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        out = {"cpu_seconds": cpu, "sent": stats.sent, "failed": stats.failed, "retried": stats.retried, "requeued": stats.requeued,
               "sessions": stats.sessions, "processes": stats.processes}
    elif step == "claim":
        t0 = time.perf_counter()
        out = {"claimed": claim_all(db, int(argv[1]), now=now)}
        seconds = time.perf_counter() - t0
    elif step == "pages":
        out, seconds = pages(db, settings, argv[1:]), 0.0
    elif step == "build":
        from digest.edition.periods import parse_period
        from digest.editorial.build import build_edition

        t0 = time.perf_counter()
        build_edition(db, settings, parse_period(argv[1], settings.timezone), now=now)
        seconds = time.perf_counter() - t0
        out = {}
    else:
        raise SystemExit(f"unknown step {step!r}")
    out.update(seconds=seconds, vmhwm_kb=vmhwm_kb(), own_kb=own_kb(), children_kb=children_kb())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
