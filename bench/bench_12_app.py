"""The grid worker's app (issue 12): what a phone downloads, and how long a phone on a slow
mobile network waits for the first screen it can use.

Why: the app opens on phones over mobile networks and inside messaging apps' web
containers; the first visit downloads the whole shell (the service worker precaches it),
later visits nothing but the APIs' answers. Target (issue 12): ≤ 250 KB compressed, first
usable screen ≤ 3 s on an emulated slow 3G phone.

How:
* sizes: builds web/app (scripts/build_app.sh, skipped when fresh) and measures every
  file of web/app/dist raw and gzipped at level 6 (what the proxy sends: gzip_comp_level
  6 in deploy/proxy/nginx.conf);
* first screen: the real registry and assessment (a throw-away database and vhost) behind
  the production proxy configuration (tools/local_proxy.py), Debian's chromium through
  Playwright with a phone's viewport, the network throttled through the DevTools protocol
  and the CPU slowed 4× (a mid-range phone). From navigation to the sign-in form visible
  and enabled (a new user's first usable screen; the app asked the registry who is signed
  in first), each run in a fresh profile (empty cache); then a second visit in the same
  profile (the service worker's shell). Median of the runs; bytes as the browser received
  them (Resource Timing transferSize).

Profiles: "slow 3G" is WebPageTest's 3G Slow (400 ms RTT, 400 kbit/s each way), "3G" its
3G (300 ms RTT, 1.6 Mbit/s down, 768 kbit/s up).
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _common  # noqa: E402
from tools import local_proxy  # noqa: E402
from tools.chromium import LAUNCH_ARGS, chromium_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "web" / "app" / "dist"
PROFILES = {  # name: (round trip ms, down kbit/s, up kbit/s)
    "slow 3G": (400, 400, 400),
    "3G": (300, 1600, 768),
}
CPU_SLOWDOWN = 4
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
WAIT_MS = 60_000  # a bound for one load, not a target


def sizes(report: _common.Report) -> None:
    rows = []
    for path in sorted(p for p in DIST.rglob("*") if p.is_file()):
        data = path.read_bytes()
        rows.append((str(path.relative_to(DIST)), len(data), len(gzip.compress(data, 6))))
    print(f"{'file':<40} {'raw KiB':>9} {'gzip KiB':>9}")
    for name, raw, packed in rows:
        print(f"{name:<40} {raw / 1024:>9.1f} {packed / 1024:>9.1f}")
    total_gz = sum(g for _, _, g in rows)
    code = sum(g for name, _, g in rows if name.endswith((".js", ".css")))
    print(f"{'total':<40} {sum(r for _, r, _ in rows) / 1024:>9.1f} {total_gz / 1024:>9.1f}")
    shell = json.loads(re.search(r"const SHELL = (\[.*?\])",
                                 (DIST / "sw.js").read_text()).group(1))
    print(f"service worker precaches {len(shell)} entries (the page and every built file)\n")
    report.add("app JS + CSS, gzipped", code / 1000, "KB", at_most=250)


def _throttle(context, page, profile: str) -> None:
    rtt, down, up = PROFILES[profile]
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": rtt, "downloadThroughput": down * 1000 / 8,
        "uploadThroughput": up * 1000 / 8})
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})


def _until_sign_in(page, base: str) -> tuple[float, int]:
    """Seconds from navigation to the sign-in form usable; bytes received meanwhile."""
    started = time.perf_counter()
    page.goto(f"{base}/app/", wait_until="commit", timeout=WAIT_MS)
    page.wait_for_selector("#login:not([disabled])", state="visible", timeout=WAIT_MS)
    elapsed = time.perf_counter() - started
    received = page.evaluate(
        "() => performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource')).reduce((n, e) => n + e.transferSize, 0)")
    return elapsed, int(received)


def first_screen(base: str, profile: str, runs: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    first, again, received = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             args=LAUNCH_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(**PHONE)
                page = context.new_page()
                _throttle(context, page, profile)
                seconds, got = _until_sign_in(page, base)
                first.append(seconds)
                received.append(got)
                page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # installed
                again.append(_until_sign_in(page, base)[0])
                context.close()
        finally:
            browser.close()
    return {"first": statistics.median(first), "again": statistics.median(again),
            "received": statistics.median(received)}


def main(args) -> int:
    subprocess.run([str(ROOT / "scripts" / "build_app.sh"), "app"], check=True, cwd=ROOT)
    report = _common.Report("bench_12 the grid worker's app: size and first usable screen")
    sizes(report)
    runs = 2 if args.quick else 5
    keys = _common.random_secrets()
    ports = {svc: _common.free_port() for svc in _common.SERVICES}
    with _common.fresh_database("app", ("registry", "assessment")) as db_url, \
            _common.rabbit_vhost("app") as amqp_uri:
        env = _common.service_env(db_url, amqp_uri, keys, ports)
        env["GRIDGOV_AUTH_REFRESH_COOKIE_PATH"] = "/api/registry/auth"
        services = {svc: _common.ServiceProcess(svc, env, ports[svc])
                    for svc in ("registry", "assessment")}
        with _common.running_services(services), \
                tempfile.TemporaryDirectory(prefix="gridgov-bench-proxy-") as logs, \
                local_proxy.running(ports, _common.free_port(), Path(logs)) as base:
            for service in services.values():
                service.wait_http("/readyz")
            for profile in PROFILES:
                _common.progress(f"{profile}: {runs} first visits in fresh profiles")
                got = first_screen(base, profile, runs)
                report.add(f"first usable screen, {profile}, first visit (median)",
                           got["first"], "s", at_most=3.0 if profile == "slow 3G" else None)
                report.add(f"bytes received, {profile}, first visit", got["received"] / 1000,
                           "KB")
                report.add(f"first usable screen, {profile}, next visit (service worker)",
                           got["again"], "s")
    report.note(f"Debian's chromium, phone viewport, CPU slowed {CPU_SLOWDOWN}x; the real "
                "registry and assessment behind deploy/proxy/nginx.conf on this machine")
    report.print()
    return 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])
