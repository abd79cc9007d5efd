"""The residents' report page in a browser (issue 12): Playwright drives Debian's Chromium
(resident_playwright_run.py, a process of its own) against the real events and registry. A
resident fills the page in zh-CN on a phone-sized screen, pins the map, attaches a photo,
gets the receipt and opens the status page; axe-core finds no serious violation in any
state; the page fetched nothing from elsewhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from eventlet.green import subprocess

from tests.events.conftest import GRID_A, JPEG

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240  # seconds: a safety net for a slow machine
SERIOUS = {"serious", "critical"}


@pytest.fixture
def events_config(service_config):
    return service_config("events", RESIDENT_CHALLENGE_BITS=10, REGISTRY_RPC_TIMEOUT=5)


def drive(port: int, photo: Path) -> dict:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.events.resident_playwright_run",
         f"http://127.0.0.1:{port}", GRID_A, str(photo)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("the browser run did not finish") from None
    assert process.returncode == 0, err.decode()[-4000:]
    return json.loads(out)


def test_a_resident_reports_in_chinese_and_follows_the_case(events, web_config_port,
                                                            tmp_path, db_engine):
    photo = tmp_path / "垃圾.jpg"
    photo.write_bytes(JPEG)
    seen = drive(web_config_port, photo)
    empty, filled, receipt, status, status_en = seen["steps"]

    assert empty["lang"] == "zh-CN" and empty["h1"] == "我要反映问题"
    assert "问题类别" in empty["labels"] and "回访电话（可选）" in empty["labels"]
    assert "环境卫生" in " ".join(empty["options"])  # words, not codes
    assert filled["pin"] and float(filled["lon"]) > 120 and float(filled["lat"]) > 31
    number = receipt["case_number"]
    assert receipt["form_hidden"] and number.startswith("GS")
    assert "139****5678" in receipt["receipt"] and "5678" not in number
    assert "已受理" in receipt["receipt"]
    assert status["url"].endswith(f"case={number}") and status["lang"] == "zh-CN"
    assert "办理中" in status["result"] and "139" not in status["result"]
    assert "垃圾" not in status["result"]  # no description on the public status
    assert set(status["fields"]) <= {"category", "status", "note", "agency", "received",
                                     "updated", "expected"}
    assert status_en["lang"] == "en" and "Being handled" in status_en["result"]

    for step in seen["steps"]:
        serious = [v for v in step["axe"] if v["impact"] in SERIOUS]
        assert serious == [], (step["label"], serious)
        assert not step["errors"].strip(), (step["label"], step["errors"])
    assert all(url.startswith(f"http://127.0.0.1:{web_config_port}/")
               for url in seen["requests"]), seen["requests"]
    assert not [line for line in seen["console"] if line.startswith(("error", "pageerror"))]

    with db_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT grid_code, photos FROM events.cases "
                                   "WHERE case_number = :n"), {"n": number}).one()
        phone = conn.execute(sa.text("SELECT phone_masked FROM registry.callback_phones "
                                     "WHERE case_number = :n"), {"n": number}).scalar()
    assert row.grid_code == GRID_A and len(row.photos) == 1
    assert phone == "139****5678"
