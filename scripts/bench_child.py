"""One measured step of scripts/bench, run in a process of its own.

    python scripts/bench_child.py queue KEY
    python scripts/bench_child.py send LIMIT CONNECTIONS [PROCESSES]

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


def vmhwm_kb() -> int:
    """Peak resident memory of this process or of its largest child (sender processes), in KB."""
    import resource

    own = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (the sender processes)."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def main(argv: list[str]) -> None:
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
    else:
        raise SystemExit(f"unknown step {step!r}")
    out.update(seconds=seconds, vmhwm_kb=vmhwm_kb())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
