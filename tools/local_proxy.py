"""The production reverse proxy's configuration (deploy/proxy/nginx.conf) run by a local
nginx, for the browser tests and the benchmarks: every upstream pointed at 127.0.0.1 and a
service's port, listening on 127.0.0.1:<port>, pid and temp files in a private directory.
The same file as compose and Kubernetes serve, so a page sees the origin people get
(cookies, CSRF, /api/<service>/, gzip). ``scripts/proxy.sh`` does the same for ``make up``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "deploy" / "proxy" / "nginx.conf"
SERVICES = ("registry", "events", "dispatch", "assessment", "notify")
TEMP_DIRS = ("client_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp")
START_SECONDS = 30.0  # a bound for nginx to answer, not a timing assertion


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not found:
        raise RuntimeError("nginx is missing: scripts/system_deps.sh test installs nginx-light")
    return found


INCLUDE = "include gridgov-site.conf;"


def site(addresses: dict[str, str], resolver: str | None = None,
         trusted: tuple[str, ...] = ()) -> str:
    """The include file's text: ``$gridgov_<service>`` set to each address (an IP literal
    needs no resolver; a name needs ``resolver``, looked up per request as in compose) and
    the front proxies ``trusted`` to name the client (none: as in compose)."""
    lines = [f"resolver {resolver} valid=1s ipv6=off;"] if resolver else []
    lines += [f"map $scheme $gridgov_{svc} {{ default {addresses[svc]}; }}" for svc in SERVICES]
    lines += [f"set_real_ip_from {network};" for network in trusted]
    return "\n".join(f"    {line}" for line in lines) + "\n"


def render(ports: dict[str, int], listen: int, work: Path, logs: Path, *,
           addresses: dict[str, str] | None = None, resolver: str | None = None,
           trusted: tuple[str, ...] = ()) -> str:
    """The configuration with each service at 127.0.0.1:<its port>, or at ``addresses``
    (names, with ``resolver``), listening on 127.0.0.1:``listen``."""
    conf = CONF.read_text(encoding="utf-8")
    given = addresses or {svc: f"127.0.0.1:{port}" for svc, port in ports.items()}
    missing = set(SERVICES) - set(given)
    if missing:
        raise ValueError(f"no address for {sorted(missing)}")
    if conf.count(INCLUDE) != 1:
        raise ValueError(f"{CONF} must include the upstreams once")
    conf = conf.replace(f"    {INCLUDE}\n", site(given, resolver, trusted))
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("/tmp/", f"{work}/")
    conf = conf.replace("access_log /dev/stdout redacted;",
                        f"access_log {logs}/access.log redacted;")
    return conf.replace("error_log /dev/stderr warn;", f"error_log {logs}/error.log warn;")


@contextmanager
def running(ports: dict[str, int], listen: int, logs: Path, *,
            addresses: dict[str, str] | None = None,
            resolver: str | None = None, trusted: tuple[str, ...] = ()) -> Iterator[str]:
    """nginx serving the rendered configuration until the block ends; its base URL.

    The temp directories are world-writable: nginx started as root runs its workers as
    nobody, who must write buffered request bodies (a photo) there."""
    work = Path(tempfile.mkdtemp(prefix="gridgov-nginx-"))
    work.chmod(0o755)
    for name in TEMP_DIRS:
        (work / name).mkdir()
        (work / name).chmod(0o777)
    conf = logs / "nginx.conf"
    text = render(ports, listen, work, logs, addresses=addresses, resolver=resolver,
                  trusted=trusted)
    conf.write_text(text, encoding="utf-8")
    process = subprocess.Popen([nginx_binary(), "-c", str(conf), "-p", str(logs),
                                "-g", "daemon off;"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{listen}"
    try:
        _wait_until_up(process, base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def _wait_until_up(process: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{base}/proxy-healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if process.poll() is not None:
            raise RuntimeError(f"nginx stopped: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            raise RuntimeError("nginx did not answer /proxy-healthz")
        time.sleep(0.1)
