"""`news-ingest replay`: archived articles through the real stages on a fresh embedded broker."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.cli import app
from ingest.replay import ReplayFileError, load_archive, run_replay

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ARCHIVE = [
    # Listed out of order on purpose: replay sorts by publication time.
    {"url": "https://courier.example/kunduz-2", "source": "Frontier Courier",
     "published": "2021-06-19T11:00:00+00:00", "title": "Fighters in Kunduz's streets",
     "text": "Residents said Taliban fighters were patrolling the streets of Kunduz on Saturday."},
    {"url": "https://ledger.example/kunduz-1", "source": "Kabul Ledger",
     "published": "2021-06-19T08:00:00+00:00", "title": "Taliban enter Kunduz",
     "text": "Taliban fighters entered Kunduz on Saturday, officials said."},
    {"url": "https://ledger.example/history", "source": "Kabul Ledger",
     "published": "2021-06-19T09:00:00+00:00", "title": "A city that fell before",
     "text": "Kunduz was captured by the Taliban in 2015 and again in 2016."},
    {"url": "https://ledger.example/taloqan", "source": "Kabul Ledger",
     "published": "2021-06-20T07:00:00+00:00", "title": "Fighting near Taloqan",
     "html": "<html><head><title>Fighting near Taloqan</title></head><body><article><p>"
             "Fighting broke out near the entrance of Taloqan, the capital of Takhar province, "
             "on Sunday as Taliban fighters pressed their offensive in the north of the "
             "country, officials said.</p><p>Residents said they could hear gunfire from the "
             "centre of the city throughout the night.</p></article></body></html>"},
]  # fmt: skip


def test_replay_prints_alerts_and_writes_csv_and_timeline(tmp_path: Path) -> None:
    archive = tmp_path / "archive.jsonl"
    archive.write_text("".join(json.dumps(line) + "\n" for line in ARCHIVE))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["replay", str(archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(("NEW", "UPDATE"))]
    # Kunduz: the 08:00 report is new, the 11:00 one corroborates it; the 2015/2016
    # retrospective raises nothing; Taloqan's page goes through the cleaner.
    assert [line.split()[:3] for line in lines] == [
        ["NEW", "entered", "Kunduz"],
        ["UPDATE", "entered", "Kunduz"],
        ["NEW", "threatened", "Taloqan"],
    ]
    with (out / "alerts.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    kunduz = [r for r in rows if r["capital"] == "Kunduz"]
    assert {r["evidence_source"] for r in kunduz} == {"Kabul Ledger", "Frontier Courier"}
    assert {r["sources"] for r in kunduz} == {"2"}
    timeline = (out / "timeline.html").read_text()
    assert "<svg" in timeline
    assert "Kunduz" in timeline
    assert "Taloqan" in timeline


def test_a_line_without_text_or_html_is_reported_with_its_number(tmp_path: Path) -> None:
    archive = tmp_path / "bad.jsonl"
    good = json.dumps(ARCHIVE[1])
    bad = json.dumps(
        {"url": "https://x.example/a", "source": "X", "published": "2021-06-19T08:00:00Z"}
    )
    archive.write_text(good + "\n" + bad + "\n")
    with pytest.raises(ReplayFileError, match=r"bad.jsonl:2"):
        load_archive(archive)


def test_the_campaign_through_the_pipeline_raises_exactly_its_expected_alerts(
    tmp_path: Path,
) -> None:
    """The team's 62-article campaign (`bench/data/alert/`), as an analyst replays it:
    every stage, dedupe included, so syndicated copies stop at dedupe and independent
    reports reach the alert stage."""
    data = Path(__file__).resolve().parent.parent / "bench" / "data" / "alert"
    expected = [tuple(x) for x in json.loads((data / "campaign_expected.json").read_text())]
    replayed = run_replay(data / "campaign.jsonl", tmp_path, timeout=200, echo=lambda _: None)
    new = [(r.alert.capital.name, r.alert.kind) for r in replayed
           if r.ce_type == "news.alert.v1"]
    assert new == expected
    ids = [r.alert.alert_id for r in replayed if r.ce_type == "news.alert.v1"]
    assert len(ids) == len(set(ids))
