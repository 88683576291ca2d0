"""`news-ingest feeds add|list|remove|import|export` against a real broker."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ingest.core.embedded_broker import EmbeddedBroker

CONFIGURED = "https://desk.example.org/rss.xml"
OPML = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="1.0"><head><title>Regional desks</title></head><body>
  <outline text="North">
    <outline text="Valley Courier" type="rss" xmlUrl="https://courier.example.net/feed"/>
    <outline text="Pass Gazette" type="rss" xmlUrl="https://gazette.example.com/atom.xml"/>
  </outline>
  <outline text="not a feed, no xmlUrl"/>
</body></opml>
"""


def feeds(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", "feeds", *args, "--config",
                           str(config)], capture_output=True, text=True, timeout=60, check=False)


def config_for(tmp_path: Path, broker: EmbeddedBroker) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[kafka]\nbootstrap_servers = '
        f'"{broker.bootstrap_servers}"\nstartup_timeout = "5s"\n[log]\nlevel = "warning"\n\n'
        f'[[feeds]]\nurl = "{CONFIGURED}"\nname = "Desk"\ninterval = "10m"\n'
    )
    return path


def listed(config: Path) -> list[list[str]]:
    result = feeds(config, "list")
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_add_import_list_export_and_remove_round_trip_through_the_catalog_topic(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Feeds added or imported are listed beside the configured one, exported, then removed."""
    config = config_for(tmp_path, broker)
    added = feeds(config, "add", "https://wire.example.org/news.rss", "--name", "Wire",
                  "--interval", "90s")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added\thttps://wire.example.org/news.rss"
    opml = tmp_path / "desks.opml"
    opml.write_bytes(OPML)
    imported = feeds(config, "import", str(opml), "--interval", "2m")
    assert imported.returncode == 0, imported.stderr
    assert f"imported 2 feed(s) from {opml}" in imported.stdout

    assert listed(config) == [
        ["config", "600s", "Desk", CONFIGURED],
        ["catalog", "120s", "Valley Courier", "https://courier.example.net/feed"],
        ["catalog", "120s", "Pass Gazette", "https://gazette.example.com/atom.xml"],
        ["catalog", "90s", "Wire", "https://wire.example.org/news.rss"],
    ]

    out = tmp_path / "export.opml"
    assert feeds(config, "export", "--out", str(out)).returncode == 0
    outlines = [(o.get("title"), o.get("xmlUrl")) for o in ET.parse(out).iter("outline")]
    assert outlines == [
        ("Desk", CONFIGURED),
        ("Valley Courier", "https://courier.example.net/feed"),
        ("Pass Gazette", "https://gazette.example.com/atom.xml"),
        ("Wire", "https://wire.example.org/news.rss"),
    ]

    removed = feeds(config, "remove", "https://courier.example.net/feed")
    assert removed.returncode == 0, removed.stderr
    assert [row[3] for row in listed(config)] == [
        CONFIGURED, "https://gazette.example.com/atom.xml", "https://wire.example.org/news.rss",
    ]


def test_a_configured_feed_cannot_be_removed_and_bad_input_is_one_clear_error(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    config = config_for(tmp_path, broker)
    kept = feeds(config, "remove", CONFIGURED)
    assert kept.returncode == 2
    assert "is in the config file" in kept.stderr
    not_http = feeds(config, "add", "ftp://files.example.org/feed")
    assert not_http.returncode == 2
    assert "http:// or https://" in not_http.stderr
    junk = tmp_path / "junk.opml"
    junk.write_bytes(b"<html><body>not an outline list</body></html>")
    refused = feeds(config, "import", str(junk))
    assert refused.returncode == 2
    assert "not OPML" in refused.stderr
    assert [row[0] for row in listed(config)] == ["config"]


def test_status_without_any_poller_state_says_so(broker: EmbeddedBroker, tmp_path: Path) -> None:
    result = feeds(config_for(tmp_path, broker), "status")
    assert result.returncode == 0
    assert result.stdout.startswith("no poller state yet in ")
