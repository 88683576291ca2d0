"""End-to-end latency at light load: a feed item to its alert on a webhook receiver.

    .venv/bin/python bench/e2e_latency.py [--articles 60] [--rate 1.0]

A loopback site publishes one article per second (by default) into an RSS
feed; each reports a new development in a different Afghan provincial
capital (first `threatened`, then `entered`), so each raises exactly one
alert. `news-ingest run` (every stage its own process, embedded broker) has
one webhook subscription pointing back at the site. Latency is measured from
the first feed response that listed the item (so the poll interval is left
out, as the issue asks) to the webhook request carrying its alert; the
figure from publication (poll wait included) is printed too.

Prints a table and writes bench/results/e2e_latency.json.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from ingest.core.embedded_broker import start_broker
from ingest.core.envelope import encode, event_id
from ingest.core.kafka_clients import ensure_topics
from ingest.core.models import Subscription, utc_now
from ingest.core.settings import load_settings
from ingest.core.topics import SUBSCRIPTIONS

RESULTS = Path(__file__).resolve().parent / "results"
CAPITALS = [
    ("Kunduz", "Kunduz"), ("Maimana", "Faryab"), ("Taloqan", "Takhar"), ("Herat", "Herat"),
    ("Ghazni", "Ghazni"), ("Farah", "Farah"), ("Zaranj", "Nimruz"), ("Lashkar Gah", "Helmand"),
    ("Kandahar", "Kandahar"), ("Qalat", "Zabul"), ("Sheberghan", "Jowzjan"),
    ("Aybak", "Samangan"), ("Pul-i-Khumri", "Baghlan"), ("Fayzabad", "Badakhshan"),
    ("Bamyan", "Bamyan"), ("Chaghcharan", "Ghor"), ("Tarinkot", "Uruzgan"), ("Gardez", "Paktia"),
    ("Khost", "Khost"), ("Sharana", "Paktika"), ("Asadabad", "Kunar"), ("Mehtarlam", "Laghman"),
    ("Jalalabad", "Nangarhar"), ("Charikar", "Parwan"), ("Maidan Shahr", "Wardak"),
    ("Pul-i-Alam", "Logar"), ("Qala-i-Naw", "Badghis"), ("Mazar-i-Sharif", "Balkh"),
]


def article(k: int) -> tuple[str, str, str]:
    """(capital, kind, html) of article k: threatened on the first pass, entered on the second."""
    capital, province = CAPITALS[k % len(CAPITALS)]
    if k < len(CAPITALS):
        kind = "threatened"
        lead = (f"Taliban fighters clashed with security forces near the entrance of {capital}, "
                f"the capital of {province} province, on Sunday, officials said.")
    else:
        kind = "entered"
        lead = (f"Taliban fighters entered {capital}, the capital of {province} province, "
                f"on Monday and spread through its neighbourhoods, residents said.")
    rng = random.Random(k)
    people = rng.sample(["Abdul Rahim", "Nasrin Sadat", "Mohammad Qasim", "Farid Ahmadi",
                         "Gul Agha", "Zarmina Noori", "Habibullah", "Shir Ali"], 2)
    extra = rng.sample([
        f"{people[0]}, a member of the {province} provincial council, said {rng.randint(3, 90)} "
        f"families had fled toward {rng.choice(['the airport', 'the river', 'nearby villages'])}.",
        f"Shopkeepers in the {rng.choice(['old', 'main', 'central'])} bazaar of {capital} closed "
        f"at {rng.randint(1, 11)} o'clock, {people[1]} told reporters by telephone.",
        f"The governor's office asked for {rng.randint(2, 40)} more units of police and a "
        f"{rng.choice(['helicopter', 'convoy', 'medical team'])} to be sent before nightfall.",
        f"Hospital staff counted {rng.randint(2, 60)} wounded by {rng.choice(['noon', 'dusk'])}, "
        f"according to a doctor who gave only his first name, {rng.choice(['Wali', 'Jawed'])}.",
        f"Mobile networks in {province} went down for {rng.randint(2, 9)} hours, residents said.",
        f"Report {k} was filed with help from {people[1]} in {capital}.",
    ], 4)
    body = [lead, *extra]
    html = (f"<html lang='en'><head><title>Fighting in {capital} ({k})</title></head><body>"
            f"<article><h1>Fighting in {capital}</h1>"
            + "".join(f"<p>{p}</p>" for p in body) + "</article></body></html>")
    return capital, kind, html


class Site:
    """Publishes article k at `start + k / rate`; records feed listings and webhook hits."""

    def __init__(self, articles: int, rate: float) -> None:
        self.articles, self.rate = articles, rate
        self.start = 0.0
        self.first_listed: dict[int, float] = {}
        self.received: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def published(self) -> int:
        if not self.start:
            return 0
        return min(self.articles, 1 + int((time.monotonic() - self.start) * self.rate))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    count, now = site.published(), time.monotonic()
                    with site.lock:
                        for k in range(count):
                            site.first_listed.setdefault(k, now)
                    stamp = format_datetime(utc_now())
                    items = "".join(
                        f"<item><title>report {k}</title><link>{site.base}/a/{k}</link>"
                        f"<guid>{k}</guid><pubDate>{stamp}</pubDate></item>" for k in range(count)
                    )
                    self._send(f"<rss version='2.0'><channel><title>latency</title><link>"
                               f"{site.base}</link><description>d</description>{items}"
                               "</channel></rss>", "application/rss+xml")
                elif self.path.startswith("/a/"):
                    self._send(article(int(self.path[3:]))[2], "text/html")
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if data.get("type") == "alert.created":
                    alert = data["data"]
                    with site.lock:
                        site.received.setdefault(
                            (alert["capital"]["name"], alert["kind"]), time.monotonic()
                        )
                self._send("ok", "text/plain")

            def _send(self, text: str, ctype: str) -> None:
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def subscribe(bootstrap: str, target: str) -> None:
    now = utc_now()
    sub = Subscription(subscription_id="latency-bench", name="latency bench", channel="webhook",
                       target=target, secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                       created_at=now, updated_at=now)
    headers, value = encode(sub, source="/bench", id=event_id(sub.ce_type, sub.subscription_id))
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(SUBSCRIPTIONS.name, key=sub.subscription_id.encode(), value=value,
                  headers=headers).get(timeout=10)
    producer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2 * len(CAPITALS))
    parser.add_argument("--rate", type=float, default=1.0, help="articles per second")
    args = parser.parse_args()
    broker = start_broker()
    site = Site(args.articles, args.rate)
    with tempfile.TemporaryDirectory(prefix="news-ingest-latency-") as tmp:
        folder = Path(tmp)
        config = folder / "bench.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n'
            f'[kafka]\nbootstrap_servers = "{broker.bootstrap_servers}"\n'
            '[http]\nallow_private_networks = true\n'
            '[poller]\nmin_interval = "1s"\n'
            '[notify]\nstdout = false\nallow_private_targets = true\n[log]\nlevel = "warning"\n'
            f'[[feeds]]\nurl = "{site.base}/feed.xml"\nname = "latency"\ninterval = "1s"\n'
        )
        settings = load_settings(config)
        ensure_topics(settings.kafka)
        subscribe(broker.bootstrap_servers, f"{site.base}/hook")
        log = (folder / "run.log").open("wb")
        run = subprocess.Popen([sys.executable, "-m", "ingest", "run", "--config", str(config)],
                               stdout=log, stderr=log)
        try:
            time.sleep(12)  # every stage joins its group before the first article appears
            site.start = time.monotonic()
            deadline = site.start + args.articles / args.rate + 60
            while len(site.received) < args.articles and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=60)
            site.server.shutdown()
            broker.stop()
    from_listing, from_publication = [], []
    for k in range(args.articles):
        capital, kind, _ = article(k)
        received = site.received.get((capital, kind))
        if received is not None:
            from_listing.append(received - site.first_listed[k])
            from_publication.append(received - (site.start + k / args.rate))
    missing = args.articles - len(from_listing)
    for k in range(args.articles):
        capital, kind, _ = article(k)
        if (capital, kind) not in site.received:
            print(f"no alert received for article {k}: {capital} {kind}")
    rows = [
        ("articles (one alert each)", str(args.articles)),
        ("rate, articles/s", f"{args.rate:g}"),
        ("alerts received on the webhook", f"{len(from_listing)} ({missing} missing)"),
        ("listed in feed -> webhook, p50 s", f"{statistics.median(from_listing):.2f}"),
        ("listed in feed -> webhook, p99 s (target < 2)", f"{percentile(from_listing, 0.99):.2f}"),
        ("published -> webhook (poll wait included), p50 s",
         f"{statistics.median(from_publication):.2f}"),
        ("published -> webhook (poll wait included), p99 s",
         f"{percentile(from_publication, 0.99):.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e_latency.json").write_text(json.dumps({
        "articles": args.articles, "rate": args.rate, "received": len(from_listing),
        "listed_to_webhook_s": {"p50": statistics.median(from_listing),
                                "p99": percentile(from_listing, 0.99)},
        "published_to_webhook_s": {"p50": statistics.median(from_publication),
                                   "p99": percentile(from_publication, 0.99)},
    }, indent=2))


if __name__ == "__main__":
    main()
