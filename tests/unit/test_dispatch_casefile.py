"""The electronic case file (P5.3.4): canonical JSON, hash chain, frozen on-time flags,
and the stored forms (the printable page: test_casefile_page.py)."""

import dataclasses
import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridgov_common.contract.routing import Priority
from services.dispatch.domain.casefile import (
    GENESIS_HASH,
    Entry,
    canonical_json,
    chain,
    entry_hash,
    format_instant,
    link,
    stage_outcome,
    verify,
)

CST = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def entries():
    return [
        Entry(1, T0, "svc-dispatch", "system", "filed", None, "filed",
              data={"rule_id": "public_security_prevention.fire_hazard_corridor",
                    "rule_version": 1}),
        Entry(2, T0 + timedelta(minutes=5), "chief-7", "town_grid_chief", "dispatch",
              "filed", "dispatched", deadline=T0 + timedelta(hours=1),
              notifications=[{"to": "department:fire", "type": "dispatch.assignment"},
                             {"to": "department:emergency_management",
                              "type": "dispatch.assignment"}]),
        Entry(3, T0 + timedelta(minutes=40), "fire-officer-2", "department", "ack",
              "dispatched", "in_progress", deadline=T0 + timedelta(hours=1), on_time=True),
        Entry(4, T0 + timedelta(days=3), "fire-officer-2", "department", "department_result",
              "in_progress", "resolved", reason="杂物已清理，通道畅通",
              deadline=T0 + timedelta(days=5), on_time=True, data={"resolved": True}),
    ]


@pytest.fixture
def linked():
    return chain(entries())


# --- canonical JSON ------------------------------------------------------------------------

def test_canonical_json_is_sorted_compact_utf8():
    value = {"b": 1, "a": ["消防", None, True], "c": {"z": 0.5, "y": "x"}}
    expected = '{"a":["消防",null,true],"b":1,"c":{"y":"x","z":0.5}}'
    assert canonical_json(value) == expected.encode()


def test_canonical_json_writes_instants_in_utc_with_z():
    local = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=CST)
    assert canonical_json({"at": local}) == b'{"at":"2026-11-26T02:00:00.123456Z"}'
    assert canonical_json([date(2026, 1, 2), uuid.UUID(int=1), Priority.URGENT]) \
        == b'["2026-01-02","00000000-0000-0000-0000-000000000001","urgent"]'


@pytest.mark.parametrize("bad", [
    datetime(2026, 11, 26, 10, 0), {1, 2}, float("nan"), object(),
])
def test_canonical_json_refuses_what_has_no_single_spelling(bad):
    with pytest.raises((TypeError, ValueError)):
        canonical_json({"v": bad})


# --- the chain -----------------------------------------------------------------------------

def test_chain_links_every_entry(linked):
    assert linked[0].prev_hash == GENESIS_HASH
    for before, after in zip(linked, linked[1:], strict=False):
        assert after.prev_hash == before.hash
    assert len({e.hash for e in linked}) == len(linked)
    assert verify(linked) == (True, None)


def test_hash_is_sha256_of_canonical_body_plus_prev_hash(linked):
    first = linked[0]
    body = json.dumps({
        "seq": 1, "at": "2026-11-26T02:00:00.000000Z", "actor_sub": "svc-dispatch",
        "actor_role": "system", "action": "filed", "from_state": None, "to_state": "filed",
        "reason": None, "deadline": None, "on_time": None, "notifications": [],
        "data": {"rule_id": "public_security_prevention.fire_hazard_corridor",
                 "rule_version": 1},
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert first.hash == hashlib.sha256(body + GENESIS_HASH.encode()).hexdigest()
    assert entry_hash(first, GENESIS_HASH) == first.hash


def test_appending_one_entry_at_a_time_gives_the_same_chain(linked):
    grown = chain(entries()[:2])
    for entry in entries()[2:]:
        grown.append(link(entry, grown[-1].hash))
    assert [e.hash for e in grown] == [e.hash for e in linked]


def test_survives_a_round_trip_through_storage(linked):
    stored = json.loads(json.dumps([e.to_dict() for e in linked]))  # as JSONB gives it back
    assert verify(stored) == (True, None)
    assert [Entry.from_dict(d) for d in stored] == linked


@pytest.mark.parametrize("field, value", [
    ("reason", "nothing was cleared"),
    ("on_time", False),
    ("actor_sub", "someone-else"),
    ("at", T0 + timedelta(days=1)),
    ("data", {"resolved": False}),
])
def test_any_edit_is_found(linked, field, value):
    tampered = list(linked)
    tampered[1] = dataclasses.replace(tampered[1], **{field: value})
    assert verify(tampered) == (False, 2)


def test_edit_of_the_stored_json_is_found(linked):
    stored = [e.to_dict() for e in linked]
    stored[3]["reason"] = "改过的"
    assert verify(stored) == (False, 4)


def test_removed_reordered_or_rehashed_entries_are_found(linked):
    assert verify([linked[0], linked[2], linked[3]]) == (False, 2)
    assert verify([linked[1], linked[0], *linked[2:]]) == (False, 1)
    # recomputing one entry's hash after an edit breaks the link of the next one
    forged = link(dataclasses.replace(linked[1], reason="forged"), linked[0].hash)
    assert verify([linked[0], forged, *linked[2:]]) == (False, 3)
    assert verify([*linked[:3], dataclasses.replace(linked[3], hash="0" * 64)]) == (False, 4)


def test_a_seq_gap_is_found():
    gap = chain([entries()[0], dataclasses.replace(entries()[2], seq=3)])
    assert verify(gap) == (False, 2)


def test_garbage_rows_fail_verification_not_the_caller(linked):
    stored = [e.to_dict() for e in linked]
    del stored[2]["at"]
    assert verify(stored) == (False, 3)
    assert verify([]) == (True, None)


def test_entries_refuse_naive_times_and_bad_seq():
    with pytest.raises(ValueError):
        Entry(1, datetime(2026, 11, 26, 10, 0), "u", "system", "filed")
    with pytest.raises(ValueError):
        Entry(0, T0, "u", "system", "filed")
    with pytest.raises(ValueError):
        Entry(1, T0, "u", "system", "filed", deadline=datetime(2026, 11, 27))
    with pytest.raises(ValueError):
        Entry(1, T0, "u", "system", "")


# --- frozen on-time flags ------------------------------------------------------------------

def test_stage_outcome():
    due = datetime(2026, 11, 26, 11, 0, tzinfo=CST)
    assert stage_outcome(due, due) is True
    assert stage_outcome(due, due - timedelta(seconds=1)) is True
    assert stage_outcome(due, due + timedelta(microseconds=1)) is False
    assert stage_outcome(due, datetime(2026, 11, 26, 3, 0, tzinfo=UTC)) is True  # 11:00 CST
    with pytest.raises(ValueError):
        stage_outcome(due, datetime(2026, 11, 26, 11, 0))


def test_a_boolean_is_not_a_sequence_number():
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        Entry(True, at, "sub", "town_grid_chief", "filed")  # True == 1 to Python
    assert Entry(1, at, "sub", "town_grid_chief", "filed").seq == 1


def test_not_a_number_cannot_enter_a_case_file():
    # NaN has no canonical JSON form: a hash over it could not be recomputed elsewhere
    with pytest.raises(ValueError):
        canonical_json({"distance_m": float("nan")})


def test_an_entry_read_back_with_datetimes_is_the_same_entry(linked):
    """A row whose timestamps the driver already turned into datetimes reads back as the
    entry it was (from_dict takes both spellings), hashes included."""
    entry = linked[2]
    row = {**entry.to_dict(), "at": entry.at, "deadline": entry.deadline}
    assert Entry.from_dict(row) == entry
    assert verify([*linked[:2], Entry.from_dict(row), linked[3]]) == (True, None)


def test_instants_are_written_in_utc_whatever_the_machines_zone(monkeypatch):
    """The hashed form must not depend on the server's TZ (the services run in
    Asia/Shanghai in a district): a machine-local conversion would change every hash."""
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert format_instant(datetime(2026, 11, 26, 10, 0, tzinfo=CST)) == \
            "2026-11-26T02:00:00.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
