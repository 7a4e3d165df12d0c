"""`digest preview --week` with 10,000 stored articles and `digest --help`: whole commands, timed (issue 24).

    scripts/bench preview [--articles 10000] [--runs 9] [--tree DIR ...]

Makes a scratch SQLite database with scripts/bench.py's Scratch and
make_articles (12 articles in 2017-W25, the rest spread over the four years
before it), then runs each command as a fresh process (the interpreter's
start-up included, as an editor meets it) and prints the median of --runs
against the issue's targets, with MISSED where one is not met. The preview is
timed twice: as an editor meets it again (the rendering cache on disk of
digest/edition/diskcache.py filled by an untimed first run) and with no cache
at all (DIGEST_CACHE_DIR="": neither compiled templates nor the inlined email,
as on a machine's first preview). Each line also gives the median CPU time
(user + system): on shared, loaded cores the wall-clock time is mostly waiting,
and the CPU time says what the command itself costs. Each tree's
modules are byte-compiled first, as an installed digest's are (pip does it;
PYTHONDONTWRITEBYTECODE would otherwise make every run compile them again).

With several --tree (other copies of digest, e.g. `git archive main | tar -x -C
/tmp/before`), the runs are interleaved between them, so that the load of
a shared machine falls on every tree alike: before and after, in one run.
`scripts/bench preview ...` runs this (a hook at the top of scripts/bench.py's main).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_TARGET, HELP_TARGET = 0.5, 0.2  # seconds (issue 24)


def _timed(tree: Path, env: dict, *args: str) -> tuple[float, float]:
    """One whole `python -m digest ARGS` run from `tree` (its digest first on the path): seconds, CPU seconds."""
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-m", "digest", *args], cwd=tree, env={**env, "PYTHONPATH": str(tree)},
                   capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - t0, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


MEASURES = {  # name: (label, target in seconds)
    "preview": ("digest preview --week, {n:,} articles, seen before (cache)", PREVIEW_TARGET),
    "preview_nocache": ("digest preview --week, {n:,} articles, no cache", PREVIEW_TARGET),
    "help": ("digest --help", HELP_TARGET),
}


def measure(env: dict, out_dir: Path, trees: list[Path], runs: int, week: str) -> dict[Path, dict[str, tuple]]:
    """Median (seconds, CPU seconds) of each of MEASURES for each tree, the runs interleaved between trees."""
    times: dict[Path, dict[str, list[tuple]]] = {t: {k: [] for k in MEASURES} for t in trees}
    envs = {t: {**env, "DIGEST_CACHE_DIR": str(out_dir / f"cache-{i}")} for i, t in enumerate(trees)}
    for i, tree in enumerate(trees):  # byte-compiled; an untimed run fills the cache and the page cache
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "digest")], check=True)
        _timed(tree, envs[tree], "preview", "--week", week, "--out", str(out_dir / "warm.html"))
    for _ in range(runs):
        for i, tree in enumerate(trees):
            preview = ("preview", "--week", week, "--out", str(out_dir / f"preview-{i}.html"))
            times[tree]["preview"].append(_timed(tree, envs[tree], *preview))
            times[tree]["preview_nocache"].append(_timed(tree, {**env, "DIGEST_CACHE_DIR": ""}, *preview))
            times[tree]["help"].append(_timed(tree, env, "--help"))
    outputs = {(out_dir / f"preview-{i}.html").read_bytes() for i in range(len(trees))}
    if len(outputs) > 1:
        print("warning: the trees wrote different previews", file=sys.stderr)
    return {t: {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in m.items()}
            for t, m in times.items()}


def report(medians: dict[Path, dict[str, tuple]], articles: int, runs: int) -> None:
    """One line a measure and tree; the verdict is on the wall-clock time (the CPU time says how loaded the
    machine was: on shared cores the two part)."""
    for tree, m in medians.items():
        for name, (label, target) in MEASURES.items():
            wall, cpu = m[name]
            verdict = "met" if wall < target else "MISSED"
            print(f"{tree}: {label.format(n=articles)}: median {wall:.3f} s (CPU {cpu:.3f} s) of {runs} "
                  f"(target < {target} s): {verdict}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="scripts/bench preview", description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, default=10_000, help="stored articles (default 10,000)")
    p.add_argument("--runs", type=int, default=9, help="timed runs of each command per tree (default 9)")
    p.add_argument("--tree", type=Path, action="append",
                   help="a checkout of digest to time (repeat to compare; default: this one)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench import WEEK, Scratch, make_articles

    sc = Scratch(args.articles, None, keep=False)
    try:
        print(f"making {args.articles:,} articles in {sc.db.dialect}", file=sys.stderr, flush=True)
        make_articles(sc)
        make_articles(sc, args.articles - 12, spread_days=4 * 365, start=1000)
        trees = [t.resolve() for t in (args.tree or [ROOT])]
        report(measure(sc.env, sc.dir, trees, args.runs, WEEK), args.articles, args.runs)
    finally:
        sc.close()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
