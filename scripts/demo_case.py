"""Follow one case through the running platform (after ``make up``), step by step.

A community grid chief of a demo grid reports a blocked fire corridor through the app API;
the town whistles it to the fire brigade (lead) and emergency management (assist) on their
own routing keys; the simulated departments (tools/department_adapter) report in and
report results; the chief makes the return visit; the case closes and its electronic case
file is written to ``var/case-file-<number>.html``.

Run: ``make demo-case`` (reads .env for the token secret and the ports).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests
from shapely.geometry import shape

from gridgov_common.kernel.auth import mint

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 30.0


def url(service: str, port_var: str, default: int, path: str) -> str:
    return f"http://127.0.0.1:{os.environ.get(port_var, default)}{path}"


def bearer(role: str, scope: str, sub: str) -> dict[str, str]:
    token = mint(os.environ["GRIDGOV_JWT_SECRET"], sub=sub, role=role, scope=scope)
    return {"Authorization": f"Bearer {token}"}


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def checked(response: requests.Response) -> dict:
    if response.status_code >= 400:
        sys.exit(f"{response.request.method} {response.url}: {response.status_code} "
                 f"{response.text}")
    return response.json()


def first_grid(admin: dict[str, str]) -> tuple[str, dict[str, float]]:
    """A demo grid and a point inside it (the app sends the worker's position)."""
    grids = checked(requests.get(url("registry", "REGISTRY_HTTP_PORT", 8001, "/grids.geojson"),
                                 headers=admin, timeout=30))
    if not grids["features"]:
        sys.exit("no grids: run `make demo` first")
    feature = grids["features"][0]
    point = shape(feature["geometry"]).representative_point()
    return feature["properties"]["grid_code"], {"lon": point.x, "lat": point.y}


def wait_for_state(case_url: str, headers: dict[str, str], state: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = requests.get(case_url, headers=headers, timeout=10)
        if found.status_code == 200 and found.json()["state"] == state:
            return found.json()
        time.sleep(0.3)
    sys.exit(f"the case did not reach {state!r} within {WAIT_SECONDS:.0f} s")


def main() -> int:
    admin = bearer("district_admin", "district:320505", "demo-admin")
    grid_code, position = first_grid(admin)
    chief = bearer("community_grid_chief", f"community:{grid_code[:12]}", "demo-chief")

    step(f"a community grid chief reports a case at {position} (grid {grid_code})")
    case = checked(requests.post(url("events", "EVENTS_HTTP_PORT", 8002, "/cases"),
                                 headers=chief, timeout=30, json={
        "location": position, "work_category": "public_security_prevention",
        "subcategory": "fire_hazard_corridor", "severity": "minor",
        "description": "3幢楼道堆放杂物，堵塞消防通道"}))
    print(f"case {case['case_number']} ({case['case_id']})")
    case_url = url("dispatch", "DISPATCH_HTTP_PORT", 8003, f"/cases/{case['case_id']}")

    step("dispatch whistles it; the departments report in and report results")
    resolved = wait_for_state(case_url, chief, "resolved")
    for a in resolved["assignments"]:
        print(f"  {a['department']:<22} {a['role']:<6} key {a['routing_key']}  "
              f"acked on time: {a['ack_on_time']}  result on time: {a['handle_on_time']}")

    step("return visit (回访): the resident is satisfied")
    checked(requests.post(f"{case_url}/return-visit", headers=chief, timeout=30,
                          json={"satisfied": True, "satisfaction": 5, "method": "phone"}))
    wait_for_state(case_url, chief, "closed")

    step("the electronic case file (P5.3.4)")
    case_file = checked(requests.get(f"{case_url}/file", headers=chief, timeout=30))
    for entry in case_file["entries"]:
        print(f"  {entry['seq']:>2} {entry['at'][:19]} {entry['actor_sub']:<22} "
              f"{entry['action']:<24} {entry.get('from_state') or '':>12} → "
              f"{entry.get('to_state') or ''}")
    print(f"  hash chain valid: {case_file['verification']['valid']}")
    page = ROOT / "var" / f"case-file-{case['case_number']}.html"
    page.parent.mkdir(exist_ok=True)
    page.write_bytes(requests.get(f"{case_url}/file.html", headers=chief, timeout=30).content)
    print(f"  printable file: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
