"""Geotag speed: articles per second per core, gazetteer load time, memory.

Run: `.venv/bin/python bench/geotag_speed.py`. Prints a table and writes
`bench/results/geotag_speed.json`.

- articles: 4 KB texts made of the labelled paragraphs of
  `bench/data/geotag/` (each article a different rotation of them).
  "typical": one labelled paragraph in four, the others place-free
  background paragraphs (`filler.txt.in`), about 12 place mentions per
  article, like a wire story; "dense": labelled paragraphs only, about 70
  mentions per article, a worst case. Tagged one after another in this
  one process (one core), CPU time;
- load: `Gazetteer.load()` of the world gazetteer, in a fresh interpreter
  (best of 3), with the import of the modules timed apart;
- memory: resident set size of that fresh interpreter before and after
  loading (Linux `/proc/self/status`, VmRSS).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from workers.geotag.gazetteer import Gazetteer
from workers.geotag.tagger import tag_places

sys.path.insert(0, str(Path(__file__).parent))
from geotag_quality import DATA, parse

RESULTS = Path(__file__).parent / "results" / "geotag_speed.json"
ARTICLE_BYTES = 4096
ARTICLES = 2000
_LOAD_PROBE = """
import json, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
t0 = time.perf_counter()
from workers.geotag.gazetteer import Gazetteer
t1 = time.perf_counter()
before = rss()
gazetteer = Gazetteer.load()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "rss_before_mb": before,
                  "rss_after_mb": rss(), "entries": sum(1 for _ in gazetteer.entries())}))
"""


def articles(labelled_share: int) -> list[str]:
    """`ARTICLES` texts of about `ARTICLE_BYTES` bytes each: of every 4
    paragraphs, `labelled_share` are labelled ones, the rest place-free
    background (`filler.txt.in`)."""
    paragraphs = [p.text for path in sorted(DATA.glob("*.txt")) for p in parse(path)]
    filler = (DATA / "filler.txt.in").read_text(encoding="utf-8").splitlines()
    made = []
    for index in range(ARTICLES):
        parts: list[str] = []
        size = 0
        offset = (index * 7) % len(paragraphs)
        while size < ARTICLE_BYTES:
            if len(parts) % 4 < labelled_share:
                paragraph = paragraphs[offset % len(paragraphs)]
            else:
                paragraph = filler[(offset + len(parts)) % len(filler)]
            parts.append(paragraph)
            size += len(paragraph.encode("utf-8")) + 2
            offset += 1
        made.append("\n\n".join(parts)[:ARTICLE_BYTES])
    return made


def rate(gazetteer: Gazetteer, texts: list[str]) -> tuple[float, float, int]:
    """Articles per CPU second, per wall second, and places found."""
    for text in texts[:100]:
        tag_places(text, gazetteer)
    started = time.process_time()
    wall = time.perf_counter()
    places = sum(len(tag_places(text, gazetteer).places) for text in texts)
    cpu = time.process_time() - started
    wall = time.perf_counter() - wall
    return len(texts) / cpu, len(texts) / wall, places


def load_probe() -> dict[str, float]:
    """The best of three fresh-interpreter loads."""
    runs = []
    for _ in range(3):
        output = subprocess.run(
            [sys.executable, "-c", _LOAD_PROBE], check=True, capture_output=True, text=True
        ).stdout
        runs.append(json.loads(output))
    return min(runs, key=lambda run: run["load_s"])


def main() -> int:
    gazetteer = Gazetteer.load()
    typical_cpu, typical_wall, typical_places = rate(gazetteer, articles(1))
    dense_cpu, _, dense_places = rate(gazetteer, articles(4))
    probe = load_probe()
    result = {
        "articles": ARTICLES,
        "article_bytes": ARTICLE_BYTES,
        "typical_places_per_article": round(typical_places / ARTICLES, 1),
        "typical_articles_per_cpu_second": round(typical_cpu, 1),
        "typical_articles_per_wall_second": round(typical_wall, 1),
        "dense_places_per_article": round(dense_places / ARTICLES, 1),
        "dense_articles_per_cpu_second": round(dense_cpu, 1),
        "gazetteer_entries": probe["entries"],
        "gazetteer_import_s": round(probe["import_s"], 3),
        "gazetteer_load_s": round(probe["load_s"], 3),
        "rss_before_load_mb": round(probe["rss_before_mb"], 1),
        "rss_after_load_mb": round(probe["rss_after_mb"], 1),
    }
    rows = [
        ("typical: places per article", result["typical_places_per_article"], ""),
        ("typical: articles/s per core", result["typical_articles_per_cpu_second"], ">= 1000"),
        ("dense: places per article", result["dense_places_per_article"], ""),
        ("dense: articles/s per core", result["dense_articles_per_cpu_second"], ""),
        ("gazetteer entries", result["gazetteer_entries"], ""),
        ("gazetteer load (s)", result["gazetteer_load_s"], "< 1"),
        ("module import (s)", result["gazetteer_import_s"], ""),
        ("RSS after load (MB)", result["rss_after_load_mb"], "< 200"),
        ("RSS before load (MB)", result["rss_before_load_mb"], ""),
    ]
    print(f"{'measure':<30} {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<30} {value!s:>10}  {target}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
