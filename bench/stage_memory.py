"""Memory of each stage process after many articles, and its growth per article.

    .venv/bin/python bench/stage_memory.py [--articles 100000] [--stages a,b,c]
        [--flat-bytes 50] [--spacing 300] [--out NAME]

For each stage, one after another (never two at once: the measured process
should have the machine to itself), on a fresh embedded broker:

- the stage's input topic is filled with `--articles` synthetic messages of
  its payload type (`bench/stage_memory_data.py`) before the stage starts; the
  poller instead polls 1,000 loopback feeds whose newest items change at every
  request, the fetcher downloads loopback pages, notify delivers to three
  webhook subscriptions on a loopback receiver
  (`bench/stage_memory_servers.py`);
- the real stage process runs as `python -m ingest worker NAME` (production
  JSON logging at info, to a file), and the benchmark samples its resident
  memory (VmRSS from /proc; the cleaner's pool processes apart) together
  with its progress (the stage's own Prometheus counter: messages consumed,
  or items emitted for the poller) every `SAMPLE_S` seconds;
- reported: RSS when it started consuming, after the warm-up (10% of the
  run, at most 10,000 articles), at the end, and the growth per article from
  a least-squares line over the samples from 20% of the run (at most 20,000
  articles) to the end, and the largest RSS sampled over that range.
  "flat" means that slope is at most `--flat-bytes`.
  Dedupe keeps every article of its window (7 days of fetch time): with the
  default `--spacing` of 300 s between articles the window holds the last
  2,016 and slides; with `--spacing 5` it holds all 100,000, so the growth is
  the window's cost per article.

Prints a table and writes bench/results/stage_memory.json (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from stage_memory_data import make_subscriptions, messages
from stage_memory_servers import LoopbackServer

from ingest.core.embedded_broker import free_port, start_broker
from ingest.core.envelope import encode, event_id
from ingest.core.kafka_clients import ensure_topics
from ingest.core.settings import load_settings
from ingest.core.stages import PIPELINE_ORDER
from ingest.core.status import STAGE_INPUTS
from ingest.core.topics import SUBSCRIPTIONS

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_S = 0.25
STALL_S = 180.0  # no progress for this long: the run is reported as stalled
FEEDS = 1000
_IN = re.compile(r'^news_ingest_messages_in_total\{stage="(\w+)",topic="[^"]+"\} (\S+)$', re.M)
_EMITTED = re.compile(r"^news_ingest_items_emitted_total (\S+)$", re.M)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children(kid)]
    return found


def progress(port: int, stage: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    if stage == "poller":
        found = _EMITTED.search(text)
        return int(float(found.group(1))) if found else 0
    return int(sum(float(v) for s, v in _IN.findall(text) if s == stage))


def config_text(stage: str, folder: Path, bootstrap: str, base: str, port: int) -> str:
    lines = [
        f'data_dir = "{folder / "data"}"',
        f'[kafka]\nbootstrap_servers = "{bootstrap}"',
        "[http]\nallow_private_networks = true\nrobots_txt = false\n"
        "per_host_concurrency = 32\nglobal_concurrency = 64",
        f'[poller]\nmin_interval = "1s"\nmetrics_port = {port}',
        "[notify]\nstdout = false\nallow_private_targets = true",
        '[log]\nlevel = "info"\nformat = "json"',
        f"[observability]\nmetrics_port = {port}",
    ]
    if stage == "poller":
        lines += [f'[[feeds]]\nurl = "{base}/f/feed{i}.xml"\nname = "feed {i}"\ninterval = "1s"'
                  for i in range(FEEDS)]
    return "\n".join(lines) + "\n"


def fill(bootstrap: str, stage: str, count: int, base: str, step: timedelta) -> float:
    """Produce the stage's input; returns the seconds it took."""
    started = time.perf_counter()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip",
                             linger_ms=50, batch_size=1 << 20, max_request_size=8_000_000)
    if stage == "notify":
        for sub in make_subscriptions(f"{base}/hook"):
            headers, value = encode(sub, source="/bench", id=event_id(sub.ce_type, sub.name))
            producer.send(SUBSCRIPTIONS.name, key=sub.subscription_id.encode(), value=value,
                          headers=headers)
    if stage != "poller":
        topic = STAGE_INPUTS[stage].name
        for n, (key, payload, ce_type) in enumerate(messages(stage, count, base=base, step=step)):
            kind = ce_type or payload.ce_type
            headers, value = encode(payload, source="/bench", id=event_id(kind, key, str(n)),
                                    type=kind)
            producer.send(topic, key=key.encode(), value=value, headers=headers)
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def sample_run(pid: int, port: int, stage: str, count: int) -> tuple[list[dict[str, Any]], str]:
    """Samples until the stage has consumed `count` messages; then a few seconds more."""
    samples: list[dict[str, Any]] = []
    started = last_move = time.monotonic()
    done_at: float | None = None
    last = -1
    while True:
        time.sleep(SAMPLE_S)
        if not Path(f"/proc/{pid}").exists() or rss_kb(pid) == 0:
            return samples, "exited"
        seen = progress(port, stage)
        if seen is None:
            continue
        now = time.monotonic()
        main = rss_kb(pid)
        kids = sum(rss_kb(c) for c in children(pid))
        samples.append({"t": round(now - started, 2), "n": seen, "rss_kb": main,
                        "children_rss_kb": kids})
        if seen != last:
            last, last_move = seen, now
        if seen >= count and done_at is None:
            done_at = now
        if done_at is not None and now - done_at >= 3.0:
            return samples, "ok"
        if now - last_move > STALL_S:
            return samples, "stalled"


def rss_at(samples: list[dict[str, Any]], n: int, key: str = "rss_kb") -> float | None:
    """RSS (KB) of the first sample at or after `n` messages."""
    for sample in samples:
        if sample["n"] >= n:
            return float(sample[key])
    return None


def slope_bytes(samples: list[dict[str, Any]], lo: int, hi: int, key: str = "rss_kb") -> float:
    points = [(s["n"], s[key] * 1024.0) for s in samples if lo <= s["n"] <= hi]
    if len(points) < 3:
        return float("nan")
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def measure(stage: str, count: int, flat_bytes: float, step: timedelta) -> dict[str, Any]:
    server = LoopbackServer()
    broker = start_broker()
    try:
        with tempfile.TemporaryDirectory(prefix=f"stage-memory-{stage}-") as tmp:
            folder = Path(tmp)
            port = free_port()
            config = folder / "bench.toml"
            config.write_text(config_text(stage, folder, broker.bootstrap_servers, server.base,
                                          port))
            ensure_topics(load_settings(config).kafka)
            fill_s = fill(broker.bootstrap_servers, stage, count, server.base, step)
            log = (folder / "stage.log").open("wb")
            env = {**os.environ, "NEWS_INGEST_DATA_DIR": str(folder / "data")}
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest", "worker", stage, "--config", str(config)],
                stdout=log, stderr=log, env=env)
            try:
                samples, outcome = sample_run(process.pid, port, stage, count)
                peak_kb = rss_kb(process.pid, "VmHWM")
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            data_bytes = sum(p.stat().st_size for p in (folder / "data").rglob("*") if p.is_file())
            tail = (folder / "stage.log").read_bytes()[-2000:].decode(errors="replace")
    finally:
        broker.stop()
        served = _stats(server.base)
        server.stop()
    return summarise(stage, count, samples, outcome, flat_bytes, fill_s=fill_s, peak_kb=peak_kb,
                     data_bytes=data_bytes, served=served, log_tail=tail)


def _stats(base: str) -> dict[str, int]:
    try:
        with urllib.request.urlopen(f"{base}/stats", timeout=5) as resp:
            result: dict[str, int] = json.loads(resp.read())
            return result
    except OSError:
        return {}


def summarise(stage: str, count: int, samples: list[dict[str, Any]], outcome: str,
              flat_bytes: float, **extra: Any) -> dict[str, Any]:
    warm = min(10_000, count // 10)
    lo = min(20_000, count // 5)
    reached = max((s["n"] for s in samples), default=0)
    started = next((s for s in samples if s["n"] > 0), samples[0] if samples else None)
    growth = slope_bytes(samples, lo, count)
    with_kids = [{**s, "total_kb": s["rss_kb"] + s["children_rss_kb"]} for s in samples]
    expected = stage == "dedupe"
    result: dict[str, Any] = {
        "stage": stage, "articles": count, "reached": reached, "outcome": outcome,
        "warmup_articles": warm, "fit_from": lo,
        "rss_start_mb": started["rss_kb"] / 1024 if started else None,
        "rss_warm_mb": _mb(rss_at(samples, warm)), "rss_end_mb": _mb(rss_at(samples, count)),
        "rss_max_mb": _mb(max((s["rss_kb"] for s in samples if lo <= s["n"] <= count),
                              default=None)),
        "growth_b_per_article": growth,
        "flat": (growth <= flat_bytes) if growth == growth else None,
        "growth_expected": expected,
        "children_rss_end_mb": _mb(rss_at(samples, count, "children_rss_kb")),
        "total_growth_b_per_article": slope_bytes(with_kids, lo, count, "total_kb"),
        "seconds": samples[-1]["t"] if samples else None,
        "samples": samples,
    }
    result.update(extra)
    if result.get("peak_kb"):
        result["peak_mb"] = result.pop("peak_kb") / 1024
    return result


def _mb(kb: float | None) -> float | None:
    return None if kb is None else kb / 1024


def table(results: list[dict[str, Any]], flat_bytes: float) -> str:
    head = ("stage", "articles", "RSS start MB", "RSS warm MB", "RSS end MB", "max MB",
            "growth B/article", "flat", "s")
    rows = [head]
    for r in results:
        flat = "-" if r["flat"] is None else ("yes" if r["flat"] else "NO")
        if r["growth_expected"]:
            flat += " (window)"
        rows.append((
            r["stage"], f"{r['reached']:,}" + ("" if r["outcome"] == "ok" else f" {r['outcome']}"),
            _fmt(r["rss_start_mb"]), _fmt(r["rss_warm_mb"]), _fmt(r["rss_end_mb"]),
            _fmt(r["rss_max_mb"]), f"{r['growth_b_per_article']:.1f}", flat, _fmt(r["seconds"], 0)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.append(f"flat: growth from {rows and results[0]['fit_from']:,} articles to the end "
                 f"<= {flat_bytes:g} B/article")
    return "\n".join(lines)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--stages", default=",".join(PIPELINE_ORDER))
    parser.add_argument("--flat-bytes", type=float, default=50.0)
    parser.add_argument("--out", default="stage_memory.json")
    parser.add_argument("--spacing", type=float, default=300.0,
                        help="seconds between generated articles' publication/fetch times")
    parser.add_argument("--reprint", type=Path,
                        help="print the table of an earlier results file (summaries recomputed)")
    args = parser.parse_args()
    if args.reprint:
        earlier = json.loads(args.reprint.read_text())
        keep = ("fill_s", "peak_mb", "data_bytes", "served", "spacing_s")
        print(table([summarise(r["stage"], r["articles"], r["samples"], r["outcome"],
                               earlier["flat_bytes"], **{k: r.get(k) for k in keep})
                     for r in earlier["stages"]], earlier["flat_bytes"]))
        return
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(PIPELINE_ORDER)
    if unknown:
        sys.exit(f"unknown stages: {', '.join(sorted(unknown))}")
    results = []
    for stage in stages:
        load = os.getloadavg()
        print(f"{stage}: {args.articles:,} articles (load average {load[0]:.2f})", flush=True)
        result = measure(stage, args.articles, args.flat_bytes, timedelta(seconds=args.spacing))
        print(f"{stage}: input filled in {result['fill_s']:.0f} s", flush=True)
        result["spacing_s"] = args.spacing
        result["load_before"] = load
        result["load_after"] = os.getloadavg()
        results.append(result)
        print(table([result], args.flat_bytes).splitlines()[1], flush=True)
        write(args.out, args.articles, args.flat_bytes, results)  # a long run keeps what it has
    print(table(results, args.flat_bytes))


def write(name: str, articles: int, flat_bytes: float, results: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "articles": articles, "flat_bytes": flat_bytes, "stages": results,
    }, indent=1))


if __name__ == "__main__":
    main()
