"""Safe defaults outside containers, explicit settings inside (issue 10, items 4 and 6):
the services bind 127.0.0.1 unless told, trust no proxy's X-Real-IP unless told, and
``make up`` keeps its logs from other users of the machine."""

from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gridgov_common.platform.migrate import SERVICES
from gridgov_common.platform.ratelimit import trusted_proxies

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
K8S_CONFIG = yaml.safe_load((ROOT / "deploy/k8s/base/config.yaml").read_text(encoding="utf-8"))

_LOAD = """
import json, sys, yaml
from nameko.cli.main import setup_yaml_parser
setup_yaml_parser()  # what `nameko run --config` does: ${VAR:default} from the environment
config = yaml.safe_load(open(sys.argv[1]))
print(json.dumps({k: config.get(k) for k in ("WEB_SERVER_ADDRESS", "TRUSTED_PROXIES")}))
"""


def nameko_config(svc: str, **env: str) -> dict:
    """The service's config.yaml as `nameko run` reads it, in a clean environment (a child
    process: the yaml hook nameko installs is global)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.endswith("_HTTP_HOST") and k != "GRIDGOV_TRUSTED_PROXIES"}
    result = subprocess.run([sys.executable, "-c", _LOAD, f"services/{svc}/config.yaml"],
                            cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                            timeout=60, check=True)
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("svc", SERVICES)
def test_a_service_binds_loopback_and_trusts_no_proxy_unless_told(svc):
    config = nameko_config(svc)
    host, _, port = config["WEB_SERVER_ADDRESS"].rpartition(":")
    assert host == "127.0.0.1" and port.isdigit()
    assert trusted_proxies(config) == ()  # and trusts no proxy's X-Real-IP
    told = nameko_config(svc, **{f"{svc.upper()}_HTTP_HOST": "0.0.0.0"})
    assert told["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{port}"
    # compose and Kubernetes serve other containers/pods: they say 0.0.0.0 explicitly
    assert COMPOSE["services"][svc]["environment"][f"{svc.upper()}_HTTP_HOST"] == "0.0.0.0"
    deployment = next(doc for doc in yaml.safe_load_all(
        (ROOT / f"deploy/k8s/base/{svc}.yaml").read_text()) if doc["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]
           ["containers"][0]["env"]}
    assert env[f"{svc.upper()}_HTTP_HOST"] == "0.0.0.0"


def test_compose_trusts_exactly_the_proxys_fixed_address():
    network = COMPOSE["networks"]["default"]["ipam"]["config"][0]
    subnet = ipaddress.ip_network(network["subnet"])
    dynamic = ipaddress.ip_network(network["ip_range"])
    proxy_ip = ipaddress.ip_address(
        COMPOSE["services"]["proxy"]["networks"]["default"]["ipv4_address"])
    assert proxy_ip in subnet and proxy_ip not in dynamic  # no other container gets it
    value = COMPOSE["x-gridgov-environment"]["GRIDGOV_TRUSTED_PROXIES"]
    assert value == f"${{GRIDGOV_TRUSTED_PROXIES:-{proxy_ip}/32}}"
    assert trusted_proxies({"TRUSTED_PROXIES": f"{proxy_ip}/32"}) == (
        ipaddress.ip_network(f"{proxy_ip}/32"),)
    assert K8S_CONFIG["data"]["GRIDGOV_TRUSTED_PROXIES"] == ""  # the overlay sets its own


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_make_up_keeps_its_logs_from_other_users(tmp_path):
    """up.sh sets umask 027 before it creates anything and secures var/log (a log an older
    run left world-readable included); what the started services write inherits it."""
    logs = tmp_path / "log"
    logs.mkdir(mode=0o755)
    old = logs / "assessment.log"
    old.write_text("a line an older run wrote\n")
    old.chmod(0o644)
    script = (f". {ROOT}/scripts/lib.sh; secure_log_dir {logs}; "
              "umask 027; echo new >> " + str(logs / "registry.log"))
    subprocess.run(["bash", "-c", script], check=True, timeout=30)
    assert _mode(logs) == 0o750
    assert _mode(old) == 0o640
    assert _mode(logs / "registry.log") == 0o640
    up = (ROOT / "scripts/up.sh").read_text(encoding="utf-8")
    first_write = min(up.index('mkdir -p "$RUN_DIR"'), up.index(">>"))
    assert 0 < up.index("\numask 027\n") < first_write
    assert up.index('secure_log_dir "$LOG_DIR"') < up.index(">>")
