"""Names for the half-year assessment (P5.4.6; issue 11 "people read names, not codes"):
the registry's names of the places, departments and people a report assesses.

A run stores them in the report's content (``content.names``), like circulars do: a filed
report names the people and places as they were when it was made, even after someone is
dismissed or a community renamed, and printing it needs no registry. Reports made before
names were stored (or while the registry did not answer) are named when read, from the
same RPCs.

- places: the registry's ``place_names(scope, grids=True)`` (public names);
- departments: ``list_departments`` (the register's zh-CN and en names);
- people: ``staff_names(subjects)`` — the names the grid notice board posts (P5.4.2), of
  active grid staff only. Nothing else of a person is asked for or kept: no phone, no ID
  number (P5.4.4); the bus event ``registry.staff.changed`` stays free of personal data.

Answers are cached for an hour per scope (places, departments) and per person, so a town
printing the same report twice asks once. A registry that does not answer costs the names,
not the report: the codes stay, and it is asked again after a minute.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nameko.exceptions import MethodNotFound, RemoteError

from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform.rpc import TimedClient

log = logging.getLogger(__name__)
TTL_SECONDS = 3600.0
RETRY_SECONDS = 60.0
STAFF_BATCH = 2000  # subjects per staff_names call (the RPC takes up to 5,000)
PARTS = ("districts", "towns", "communities", "grids", "departments", "staff")
_cache: dict[tuple[str, str], tuple[float, Any]] = {}


def _fresh(key: tuple[str, str]) -> Any | None:
    hit = _cache.get(key)
    return hit[1] if hit and time.monotonic() - hit[0] < TTL_SECONDS else None


class NamesClient:
    """What the assessment's documents need from the registry (module docstring)."""

    def __init__(self, rpc: TimedClient) -> None:
        self.rpc = rpc

    def for_report(self, scope: str, subjects: list[str], on: str | None = None
                   ) -> dict[str, dict]:
        """``{districts, towns, communities, grids: {code: name}, departments: {code:
        {"zh-CN", "en"}}, staff: {subject: name}}``; a part the registry did not give is
        empty (the document shows the code)."""
        code = scope.partition(":")[2]
        names: dict[str, dict] = {part: {} for part in PARTS}
        # the places by their names on ``on`` (ISO date: the half-year's last day counted),
        # as they were called in the period assessed (division codes are dated, M1)
        places = self._ask(("places", f"{code}@{on}"), "place_names", code, True, on)
        for part in ("districts", "towns", "communities", "grids"):
            names[part] = dict((places or {}).get(part) or {})
        departments = self._ask(("departments", ""), "list_departments")
        names["departments"] = {d["code"]: {"zh-CN": d["name_zh"], "en": d["name_en"]}
                                for d in departments or []}
        names["staff"] = self._staff(sorted(set(subjects)))
        return names

    def _staff(self, subjects: list[str]) -> dict[str, str]:
        known = {s: _fresh(("staff", s)) for s in subjects}
        missing = [s for s, name in known.items() if name is None]
        for start in range(0, len(missing), STAFF_BATCH):
            batch = missing[start:start + STAFF_BATCH]
            answer = self._ask(None, "staff_names", batch)
            if answer is None:
                break
            now = time.monotonic()
            for subject in batch:  # "" = asked, no name: not asked again for an hour
                _cache[("staff", subject)] = (now, answer.get(subject, ""))
                known[subject] = answer.get(subject, "")
        return {s: name for s, name in known.items() if name}

    def _ask(self, key: tuple[str, str] | None, method: str, *args: Any) -> Any:
        """The registry's answer (cached under ``key``), or None when it did not answer."""
        if key is not None and (hit := _fresh(key)) is not None:
            return hit
        if _fresh(("down", method)) is not None:
            return None
        try:
            answer = self.rpc.call(method, *args)
        except (ServiceUnavailable, RemoteError, MethodNotFound) as exc:
            # not running, too slow, or an older registry without the RPC
            log.warning("registry did not answer %s (%s): the assessment shows codes",
                        method, exc)
            # asked again in a minute, not at every page of this minute
            _cache[("down", method)] = (time.monotonic() - TTL_SECONDS + RETRY_SECONDS, True)
            return None
        if key is not None:
            _cache[key] = (time.monotonic(), answer)
        return answer




def forget() -> None:
    """Drop the cached names (tests)."""
    _cache.clear()
