"""Dedupe decision speed and memory per indexed article, on synthetic articles.

speed:  5,000 articles of about 600 words (one in five a syndicated copy of
        an earlier one with a paragraph cut and a dateline added) through one
        `DedupeIndex`, in batches of 500 as the stage does; CPU seconds of
        this process (the decision, SQLite included), per core, after a
        warm-up of 1,000 other articles through a throwaway index (a
        running stage's caches are warm; a fresh process's are not).
memory: `--articles` (default 1,000,000) distinct synthetic articles of about
        120 words indexed into one `DedupeIndex` (all inside the window);
        resident memory of the process before and after, divided by the
        articles indexed, plus the band table's own arrays and the file size.

Run: .venv/bin/python bench/dedupe_speed.py [--articles N]
Writes bench/results/dedupe_speed.json.

A/B against an older version of the code, in alternating rounds (CPU time
drifts by tens of per cent on a shared machine, so only figures of one run
compare), each round in a fresh process:

    mkdir -p /tmp/base && git archive COMMIT workers | tar -x -C /tmp/base
    .venv/bin/python bench/dedupe_speed.py --baseline /tmp/base --rounds 8

`--baseline` puts that folder first on the baseline processes' PYTHONPATH,
so their `workers.dedupe` is the old one; both sides must give the same
verdicts (checked on a digest of every article's duplicate_of, story_id and
match). Writes bench/results/dedupe_speed_ab.json; no memory run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from ingest.core.models import Article, Deduped, Extraction
from workers.dedupe.index import DedupeIndex

RESULT = Path(__file__).resolve().parent / "results" / "dedupe_speed.json"
AB_RESULT = RESULT.with_name("dedupe_speed_ab.json")
T0 = datetime(2021, 6, 20, tzinfo=UTC)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def vocabulary(rng: np.random.Generator) -> list[str]:
    letters = list("abcdefghijklmnoprstuvwy")
    words = sorted({"".join(rng.choice(letters, size=rng.integers(2, 10))) for _ in range(12000)})
    # one word in twenty a name, about as often as in news copy
    names = [w.capitalize() for w in words[:600]]
    return words + names


def text(rng: np.random.Generator, words: list[str], length: int) -> str:
    picks = rng.integers(0, len(words), size=length)
    paragraphs = []
    for start in range(0, length, 60):
        paragraphs.append(" ".join(words[i] for i in picks[start : start + 60]) + ".")
    return "\n\n".join(paragraphs)


def article(number: int, body: str, when: datetime) -> Article:
    url = f"https://synthetic.example/{number}"
    return Article(
        article_id=f"a{number}", url=url, canonical_url=url, feed_url="https://synthetic.example/rss",
        source="Synthetic", text=body, published=when, published_source="feed", fetched_at=when,
        extraction=Extraction(status="ok"),
    )


def warm_up(tmp: Path, words: list[str]) -> None:
    """1,000 other articles through a throwaway index, untimed, as a running stage has had:
    the caches of word folds and term ids filled, numpy's and SQLite's first-use costs paid."""
    rng = np.random.default_rng(1)  # not the timed articles' generator: they stay the same
    others = [article(-1 - n, text(rng, words, 600), T0) for n in range(1000)]
    with DedupeIndex(tmp / "warm-up.sqlite3") as index:
        for start in range(0, len(others), 500):
            index.check_and_add_all(others[start : start + 500])


def speed(tmp: Path, words: list[str], rng: np.random.Generator) -> dict[str, Any]:
    bodies: list[str] = []
    for number in range(5000):
        if number % 5 == 4:
            parts = bodies[int(rng.integers(0, len(bodies)))].split("\n\n")
            parts.pop(int(rng.integers(1, len(parts))))
            bodies.append("KABUL (Wire) \u2014 " + "\n\n".join(parts))
        else:
            bodies.append(text(rng, words, 600))
    articles = [article(n, b, T0 + timedelta(seconds=n)) for n, b in enumerate(bodies)]
    warm_up(tmp, words)
    verdicts: list[Deduped] = []
    with DedupeIndex(tmp / "speed.sqlite3") as index:
        started = time.process_time()
        for start in range(0, len(articles), 500):
            verdicts.extend(index.check_and_add_all(articles[start : start + 500]))
        cpu = time.process_time() - started
    duplicates = sum(v.duplicate_of is not None for v in verdicts)
    digest = hashlib.sha256()
    for v in verdicts:
        digest.update(f"{v.article.article_id} {v.duplicate_of} {v.story_id} {v.match}\n".encode())
    return {"articles": len(articles), "duplicates_found": duplicates,
            "copies_planted": len(articles) // 5, "cpu_s": round(cpu, 2),
            "articles_per_s_per_core": round(len(articles) / cpu),
            "verdicts_sha256": digest.hexdigest()}


def memory(tmp: Path, words: list[str], rng: np.random.Generator, count: int) -> dict[str, float]:
    path = tmp / "memory.sqlite3"
    with DedupeIndex(path) as index:
        index.check_and_add(article(-1, text(rng, words, 120), T0))
        before = rss_mb()
        started = time.monotonic()
        batch: list[Article] = []
        for number in range(count):
            when = T0 + timedelta(seconds=number * 0.5)  # a million in under 6 days
            batch.append(article(number, text(rng, words, 120), when))
            if len(batch) == 1000:
                index.check_and_add_all(batch)
                batch = []
        if batch:
            index.check_and_add_all(batch)
        elapsed = time.monotonic() - started
        after = rss_mb()
        entries, table_bytes = len(index.bands), index.bands.nbytes()
    return {"articles": count, "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "bytes_per_article_rss": round((after - before) * 2**20 / count),
            "band_entries": entries, "band_table_bytes_per_article": round(table_bytes / count),
            "file_bytes_per_article": round(path.stat().st_size / count), "seconds": round(elapsed)}


def one_round(baseline: Path | None) -> dict[str, Any]:
    """The speed run in a fresh process, with `baseline` first on its path if given."""
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(baseline), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, __file__, "--speed-only"], env=env, check=True,
                          capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def compare(baseline: Path, rounds: int) -> None:
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
    for number in range(rounds):
        order = ["baseline", "current"] if number % 2 == 0 else ["current", "baseline"]
        for side in order:
            runs[side].append(one_round(baseline if side == "baseline" else None))
            print(f"round {number} {side}: {runs[side][-1]['articles_per_s_per_core']:,} "
                  "articles/s per core", flush=True)
    rates = {side: [r["articles_per_s_per_core"] for r in got] for side, got in runs.items()}
    same = {r["verdicts_sha256"] for got in runs.values() for r in got}
    print("| code | best | median | articles/s per core, rounds |\n| --- | --- | --- | --- |")
    for side, got in rates.items():
        print(f"| {side} | {max(got):,} | {statistics.median(got):,.0f} | "
              f"{', '.join(f'{r:,}' for r in got)} |")
    ratio = statistics.median(rates["current"]) / statistics.median(rates["baseline"])
    print(f"median ratio current / baseline: {ratio:.2f}; same verdicts: {len(same) == 1}")
    AB_RESULT.parent.mkdir(parents=True, exist_ok=True)
    AB_RESULT.write_text(json.dumps({"baseline": str(baseline), "rounds": runs,
                                     "median_ratio": round(ratio, 3),
                                     "same_verdicts": len(same) == 1}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=Path, help="folder holding an older workers/dedupe")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--speed-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline is not None:
        compare(args.baseline, args.rounds)
        return
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    rng = np.random.default_rng(7)
    words = vocabulary(rng)
    if args.speed_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(speed(Path(tmp), words, rng)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        fast = speed(Path(tmp), words, rng)
        print("| measure | value | target |\n| --- | --- | --- |")
        rate = fast["articles_per_s_per_core"]
        print(f"| dedupe decision, articles/s per core | {rate:,} | >= 2,000 |")
        print(f"| planted copies found | {fast['duplicates_found']}/{fast['copies_planted']} | |")
        mem = memory(Path(tmp), words, rng, args.articles)
    print(f"| memory per indexed article ({mem['articles']:,} articles, RSS growth) | "
          f"{mem['bytes_per_article_rss']:,} B | <= 2 KB |")
    print(f"| band table arrays per article | {mem['band_table_bytes_per_article']} B | |")
    print(f"| SQLite file per article | {mem['file_bytes_per_article']:,} B | |")
    print(f"| indexing time for the memory run | {mem['seconds']} s | |")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"speed": fast, "memory": mem}, indent=2) + "\n")


if __name__ == "__main__":
    main()
