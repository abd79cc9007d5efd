"""The developer and deployment tooling: Makefile, scripts, .ci/run, docker-compose.yml.

No server is needed: files are parsed, and scripts run against temp files and free ports.
"""

import base64
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = ("GRIDGOV_JWT_SECRET", "GRIDGOV_PII_KEY", "GRIDGOV_PII_INDEX_KEY")
SERVICE_MODULE = re.compile(r"^services\.([a-z_]+)\.service$")


def run(*args, **kwargs):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, **kwargs)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def command_words(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def nameko_services() -> dict[str, dict]:
    """Compose entries whose command runs a ``services.<x>.service`` module, by ``x``."""
    found = {}
    for name, service in compose()["services"].items():
        for word in command_words(service):
            match = SERVICE_MODULE.match(word)
            if match:
                found[match.group(1)] = dict(service, compose_name=name)
    return found


def makefile_services() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^SERVICES\s*:?=\s*(.+)$", text, re.MULTILINE)
    assert match, "Makefile has no SERVICES := … line"
    return match.group(1).split()


def parse_env(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# --- docker-compose.yml -----------------------------------------------------------------

def test_compose_file_parses_and_names_every_service_that_exists():
    services = nameko_services()
    assert services, "docker-compose.yml runs no services.<x>.service"
    for svc, entry in services.items():
        assert entry["compose_name"] == svc
        words = command_words(entry)
        assert words[:2] == ["nameko", "run"], words
        assert words[words.index("--config") + 1] == f"services/{svc}/config.yaml"
        folder = ROOT / "services" / svc
        assert folder.is_dir(), f"{folder} is missing"
        assert (folder / "config.yaml").is_file(), f"{folder}/config.yaml is missing"
        assert (folder / "service.py").is_file(), f"{folder}/service.py is missing"


def test_every_makefile_service_has_a_compose_entry_and_vice_versa():
    assert sorted(makefile_services()) == sorted(nameko_services())


def test_scripts_default_service_lists_match_the_makefile():
    expected = " ".join(makefile_services())
    for script in ("up.sh", "down.sh", "logs.sh"):
        text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
        assert f'GRIDGOV_SERVICES:-{expected}' in text, script


def test_compose_services_wait_for_migrate_and_check_readyz_on_their_port():
    spec = compose()
    assert spec["services"]["migrate"]["command"] == [
        "python", "-m", "gridgov_common.platform.migrate", "upgrade"]
    for svc, entry in nameko_services().items():
        assert entry["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        config = (ROOT / "services" / svc / "config.yaml").read_text(encoding="utf-8")
        variable = f"{svc.upper()}_HTTP_PORT"
        default = re.search(r"^WEB_SERVER_ADDRESS:.*\{" + variable + r":(\d+)\}", config,
                            re.MULTILINE)
        assert default, f"services/{svc}/config.yaml: no ${{{svc.upper()}_HTTP_PORT:…}}"
        port = default.group(1)
        assert str(entry["environment"][f"{svc.upper()}_HTTP_PORT"]) == port
        assert "ports" not in entry  # scalable; reached through the proxy (deploy/proxy)
        assert f"http://127.0.0.1:{port}/readyz" in entry["healthcheck"]["test"]


def test_compose_secrets_come_from_the_environment_without_defaults():
    for svc in nameko_services():
        environment = compose()["services"][svc]["environment"]
        # the PII keys only where they are needed (tests/test_deploy_compose.py)
        for name in SECRETS if svc in ("registry", "notify") else SECRETS[:1]:
            assert environment[name].startswith("${" + name + ":?"), (svc, name)
    migrate = compose()["services"]["migrate"]["environment"]
    assert "${GRIDGOV_DB_PASSWORD:?" in migrate["GRIDGOV_DB_URL"]
    plugins = (ROOT / "deploy" / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins


def test_dockerfile_runs_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0"))
    assert "COPY . " not in text, "copying the whole tree would bake .env into the image"


# --- .ci/run, Makefile, shell scripts ---------------------------------------------------

def test_ci_run_calls_make_test():
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert re.search(r"^make test\s*$", text, re.MULTILINE)
    # issue 15: the compose stack on every run, after the suite
    assert re.search(r"^make test\s*$(.|\n)*^make compose-test\s*$", text, re.MULTILINE)


def test_shell_scripts_pass_bash_n():
    scripts = (sorted((ROOT / "scripts").glob("*.sh")) + [ROOT / ".ci" / "run"]
               + sorted((ROOT / "tests" / "compose").rglob("*.sh")))
    assert len(scripts) >= 5
    for script in scripts:
        result = run("bash", "-n", str(script))
        assert result.returncode == 0, f"{script}: {result.stderr}"


def test_make_dry_run_of_the_main_targets():
    result = run("make", "-n", "up", "test", "down", "logs", "bench", "lint", "clean")
    assert result.returncode == 0, result.stderr
    assert ".venv/bin/pytest" in result.stdout
    assert "scripts/up.sh" in result.stdout


# --- scripts/gen_env.py -------------------------------------------------------------------

def test_gen_env_writes_valid_keys_of_the_right_lengths(tmp_path):
    target = tmp_path / "generated.env"
    result = run(sys.executable, "scripts/gen_env.py", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    env = parse_env(target.read_text())
    assert env["GRIDGOV_DB_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov"
    assert env["GRIDGOV_AMQP_URI"] == "pyamqp://guest:guest@127.0.0.1:5672/"
    assert env["PSYCOPG_WAIT_FUNC"] == "wait_select"
    jwt = env["GRIDGOV_JWT_SECRET"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", jwt)
    assert len(base64.urlsafe_b64decode(jwt + "=" * (-len(jwt) % 4))) == 48
    for name in ("GRIDGOV_PII_KEY", "GRIDGOV_PII_INDEX_KEY"):
        assert len(base64.b64decode(env[name], validate=True)) == 32, name
    assert env["GRIDGOV_PII_KEY"] != env["GRIDGOV_PII_INDEX_KEY"]
    for name in ("GRIDGOV_DB_PASSWORD", "GRIDGOV_AMQP_PASSWORD"):  # URL-safe: used in URLs
        assert re.fullmatch(r"[A-Za-z0-9_-]{24,}", env[name]), name

    from gridgov_common.platform import db_roles
    for svc in db_roles.SERVICES:  # each service's own PostgreSQL role (issue 10 item 2)
        upper = svc.upper()
        assert re.fullmatch(r"[A-Za-z0-9_-]{24,}", env[f"GRIDGOV_{upper}_DB_PASSWORD"])
        assert env[f"GRIDGOV_{upper}_DB_URL"] == (
            f"postgresql+psycopg://{db_roles.role_name(svc)}:"
            f"{env[f'GRIDGOV_{upper}_DB_PASSWORD']}@127.0.0.1:5432/gridgov")

    from tools import bus_users
    for code in bus_users.DEMO_DEPARTMENTS:  # compose's simulated departments (issue 10)
        assert re.fullmatch(r"[A-Za-z0-9_-]{24,}", env[f"GRIDGOV_BUS_PASSWORD_{code.upper()}"])
    assert {name for name in env if name.startswith("GRIDGOV_BUS_PASSWORD_")} == {
        f"GRIDGOV_BUS_PASSWORD_{code.upper()}" for code in bus_users.DEMO_DEPARTMENTS}

    other = tmp_path / "other.env"
    run(sys.executable, "scripts/gen_env.py", "--output", str(other), check=True)
    assert parse_env(other.read_text())["GRIDGOV_PII_KEY"] != env["GRIDGOV_PII_KEY"]


def test_make_up_gives_each_process_only_its_own_login_and_keys():
    """scripts/up.sh starts every process with env $(private_env_unset <name>): its own
    database URL only, never the administrator's, the PII keys only to registry and notify."""
    env = {"PATH": os.environ["PATH"], "GRIDGOV_DB_URL": "admin", "GRIDGOV_DB_PASSWORD": "p",
           "GRIDGOV_PII_KEY": "k", "GRIDGOV_PII_INDEX_KEY": "i", "GRIDGOV_PII_OLD_KEYS": "o",
           "GRIDGOV_JWT_SECRET": "j", **{f"GRIDGOV_{s.upper()}_DB_URL": s for s in
                                          ("registry", "events", "notify")},
           "GRIDGOV_EVENTS_DB_PASSWORD": "e", "GRIDGOV_AMQP_PASSWORD": "a",
           "GRIDGOV_AMQP_PASSWORD_EVENTS": "ae", "GRIDGOV_BUS_PASSWORD_FIRE": "b",
           "GRIDGOV_GRAFANA_PASSWORD": "g"}
    seen = {}
    for name in ("registry", "events", "notify", "simulator"):
        result = run("bash", "-c", f'. scripts/lib.sh; env $(private_env_unset {name}) env',
                     env=env, check=True)
        seen[name] = {line.split("=", 1)[0] for line in result.stdout.splitlines()
                      if line.startswith("GRIDGOV_")}
    pii = {"GRIDGOV_PII_KEY", "GRIDGOV_PII_INDEX_KEY", "GRIDGOV_PII_OLD_KEYS"}
    assert seen["registry"] == {"GRIDGOV_JWT_SECRET", "GRIDGOV_REGISTRY_DB_URL", *pii}
    assert seen["notify"] == {"GRIDGOV_JWT_SECRET", "GRIDGOV_NOTIFY_DB_URL", *pii}
    assert seen["events"] == {"GRIDGOV_JWT_SECRET", "GRIDGOV_EVENTS_DB_URL"}
    assert seen["simulator"] == {"GRIDGOV_JWT_SECRET"}
    up = (ROOT / "scripts" / "up.sh").read_text(encoding="utf-8")
    # the services, demo, has-demo, the demo history loaders, has-demo and the demo
    # staff's passwords, departments, sim
    assert up.count("env $(private_env_unset") == 8
    assert 'nohup setsid env $(private_env_unset "$svc") .venv/bin/nameko run' in up


def test_gen_env_never_overwrites_and_only_appends_missing_keys(tmp_path):
    target = tmp_path / ".env"
    target.write_text("GRIDGOV_PII_KEY=keep-me\nOTHER=1")
    target.chmod(0o644)
    run(sys.executable, "scripts/gen_env.py", "--output", str(target), check=True)
    env = parse_env(target.read_text())
    assert env["GRIDGOV_PII_KEY"] == "keep-me" and env["OTHER"] == "1"
    assert "GRIDGOV_JWT_SECRET" in env and "GRIDGOV_PII_INDEX_KEY" in env
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_text()
    result = run(sys.executable, "scripts/gen_env.py", "--output", str(target), check=True)
    assert target.read_text() == before
    assert "left alone" in result.stdout


# --- scripts/wait_for.py ------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["tcp", "http", "postgresql+psycopg", "pyamqp"])
def test_wait_for_fails_clearly_on_a_closed_port(scheme):
    port = free_port()
    url = {"tcp": f"tcp://127.0.0.1:{port}",
           "http": f"http://127.0.0.1:{port}/healthz",
           "postgresql+psycopg": f"postgresql+psycopg://postgres@127.0.0.1:{port}/gridgov",
           "pyamqp": f"pyamqp://guest:secret@127.0.0.1:{port}/"}[scheme]
    result = run(sys.executable, "scripts/wait_for.py", "--timeout", "0", url)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "not ready" in result.stderr and "refused" in result.stderr.lower()
    assert "secret" not in result.stderr


def test_wait_for_succeeds_on_a_listening_port_and_rejects_unknown_schemes():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = run(sys.executable, "scripts/wait_for.py", "--timeout", "0",
                     f"tcp://127.0.0.1:{port}")
    assert result.returncode == 0, result.stderr
    assert "answers" in result.stdout
    result = run(sys.executable, "scripts/wait_for.py", "ftp://127.0.0.1:21/")
    assert result.returncode == 2 and "unsupported target" in result.stderr


def test_logs_rejects_an_unknown_service():
    result = run("bash", "scripts/logs.sh", "no-such-service",
                 env={**os.environ, "TAIL_LINES": "0"})
    assert result.returncode == 2 and "unknown service" in result.stderr


def test_every_file_compose_mounts_from_the_repository_exists():
    """Prometheus, Grafana and RabbitMQ read their configuration from deploy/."""
    mounts = [volume.split(":")[0] for service in compose()["services"].values()
              for volume in service.get("volumes", []) if volume.startswith("./")]
    assert {"./deploy/prometheus", "./deploy/grafana/provisioning",
            "./deploy/grafana/dashboards"} <= set(mounts)
    assert [m for m in mounts if not (ROOT / m).exists()] == []
