"""docker-compose.yml and deploy/proxy/nginx.conf: the whole stack, checked without Docker.

The compose file is validated against the Compose specification's JSON schema
(tests/schemas/compose-spec.json) and cross-checked with the code: service modules,
migrations, ports, health checks, users, secrets and the proxy's routes. nginx's own
`nginx -t` checks the proxy configuration (upstream host names replaced by 127.0.0.1,
which only resolve inside compose or Kubernetes).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import gen_env  # noqa: E402

from gridgov_common.platform.migrate import SERVICES, migrations_dir  # noqa: E402
from tools import local_proxy  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
NGINX = (ROOT / "deploy" / "proxy" / "nginx.conf").read_text(encoding="utf-8")
SCALABLE = (*SERVICES, "departments")


def port_of(svc: str) -> int:
    text = (ROOT / "services" / svc / "config.yaml").read_text(encoding="utf-8")
    return int(re.search(r"\{" + svc.upper() + r"_HTTP_PORT:(\d+)\}", text).group(1))


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(COMPOSE), key=str)
    assert errors == [], [e.message for e in errors]
    broken = dict(COMPOSE, services=dict(COMPOSE["services"], proxy={"image": 5, "portz": []}))
    assert list(validator.iter_errors(broken)), "the schema refuses nothing"


def test_the_full_stack_is_there():
    assert {"rabbitmq", "rabbitmq-definitions", "postgres", "migrate", *SERVICES, "proxy",
            "departments", "prometheus", "grafana"} <= set(COMPOSE["services"])


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_runs_its_module_scales_and_checks_readyz(svc):
    entry = COMPOSE["services"][svc]
    assert entry["command"] == ["nameko", "run", "--config", f"services/{svc}/config.yaml",
                                f"services.{svc}.service"]
    assert (ROOT / "services" / svc / "service.py").is_file()
    assert entry["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    port = port_of(svc)
    assert entry["environment"][f"{svc.upper()}_HTTP_PORT"] == str(port)
    assert f"http://127.0.0.1:{port}/readyz" in entry["healthcheck"]["test"]


@pytest.mark.parametrize("name", SCALABLE)
def test_scalable_services_publish_no_port_and_have_no_container_name(name):
    entry = COMPOSE["services"][name]
    assert "ports" not in entry and "container_name" not in entry


def test_containers_of_our_image_run_as_the_non_root_user_of_the_dockerfile():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile).group(1)
    ours = [n for n, e in COMPOSE["services"].items() if e.get("image") == "gridgov:latest"]
    assert set(SCALABLE) | {"migrate", "rabbitmq-definitions"} <= set(ours)
    for name in ours:
        user = COMPOSE["services"][name]["user"]
        assert user.split(":")[0] == uid != "0", name
    assert "scripts/wait_migrated.py" in dockerfile  # the k8s init container's check


def test_migrate_runs_every_services_migrations():
    assert COMPOSE["services"]["migrate"]["command"] == [
        "python", "-m", "gridgov_common.platform.migrate", "upgrade"]  # no list: all of SERVICES
    assert sorted(SERVICES) == sorted(
        p.parent.name for p in (ROOT / "services").glob("*/service.py"))
    for svc in SERVICES:
        assert any(migrations_dir(svc).glob("versions/*.py")), svc


def test_the_broker_loads_the_definitions_the_job_writes():
    broker = COMPOSE["services"]["rabbitmq"]
    job = COMPOSE["services"]["rabbitmq-definitions"]
    conf = (ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    path = re.search(r"^definitions\.local\.path = (\S+)$", conf, re.MULTILINE).group(1)
    volume = path.rsplit("/", 1)[0]
    assert f"rabbitmq-definitions:{volume}:ro" in broker["volumes"]
    assert f"rabbitmq-definitions:{volume}" in job["volumes"]
    assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/20-gridgov.conf:ro" in \
        broker["volumes"]
    assert broker["depends_on"]["rabbitmq-definitions"]["condition"] == \
        "service_completed_successfully"
    script = " ".join(job["command"])
    assert "tools.bus_users definitions" in script and path in script
    assert "--platform-user gridgov:GRIDGOV_AMQP_PASSWORD" in script
    assert "--service-password-env-prefix GRIDGOV_AMQP_PASSWORD_" in script
    for svc in SERVICES:  # the job hashes every service user's password
        assert f"GRIDGOV_AMQP_PASSWORD_{svc.upper()}" in job["environment"]
    assert "RABBITMQ_DEFAULT_PASS" not in json.dumps(broker)  # ignored when importing


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_connects_as_its_own_broker_user(svc):
    """Issue 10: no administrator broker user shared by the five services."""
    env = COMPOSE["services"][svc]["environment"]
    assert env["GRIDGOV_AMQP_URI"].startswith(
        f"pyamqp://svc.{svc}:${{GRIDGOV_AMQP_PASSWORD_{svc.upper()}:?")
    assert env["GRIDGOV_AMQP_URI"].endswith("@rabbitmq:5672/")
    broker = [value for value in env.values() if "@rabbitmq:" in str(value)]
    assert not [value for value in broker if "//gridgov:" in value]  # no administrator
    assert f"GRIDGOV_AMQP_PASSWORD_{svc.upper()}" in {n for n, _, _ in gen_env.ENTRIES}


def test_every_secret_compose_requires_is_written_by_gen_env_and_has_no_default():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {"GRIDGOV_JWT_SECRET", "GRIDGOV_PII_KEY", "GRIDGOV_DB_PASSWORD",
            "GRIDGOV_AMQP_PASSWORD", "GRIDGOV_GRAFANA_PASSWORD"} <= required
    assert required <= {name for name, _, _ in gen_env.ENTRIES}
    for name in required:
        assert not re.search(r"\$\{" + name + r":-", text), f"{name} has a default"
    assert "change-me" not in text


def test_each_service_connects_as_its_own_role_and_only_migrate_as_the_administrator():
    """Issue 10 item 2: gridgov_<svc> has rights on its own schema only
    (gridgov_common/platform/db_roles.py); the superuser of the container is the migrate job's."""
    urls = {}
    for svc in SERVICES:
        env = COMPOSE["services"][svc]["environment"]
        var = f"GRIDGOV_{svc.upper()}_DB_URL"
        assert [k for k in env if "DB_" in k] == [var], svc
        assert env[var] == (f"postgresql+psycopg://gridgov_{svc}:${{GRIDGOV_{svc.upper()}"
                            f"_DB_PASSWORD:?set it (python3 scripts/gen_env.py writes .env)}}"
                            f"@postgres:5432/gridgov")
        assert "${" + var + ":" in (ROOT / "services" / svc / "config.yaml").read_text()
        urls[var] = env[var]
    postgres = COMPOSE["services"]["postgres"]["environment"]
    migrate = COMPOSE["services"]["migrate"]["environment"]
    assert migrate["GRIDGOV_DB_URL"].startswith(
        f"postgresql+psycopg://{postgres['POSTGRES_USER']}:${{GRIDGOV_DB_PASSWORD:?")
    assert {k: v for k, v in migrate.items() if k in urls} == urls  # it makes these roles
    others = [n for n, e in COMPOSE["services"].items() if n != "migrate"
              and "GRIDGOV_DB_PASSWORD" in json.dumps(e.get("environment", {}))
              and n != "postgres"]
    assert others == [], f"the administrator's password reaches {others}"


def test_only_the_services_that_decrypt_get_the_personal_data_keys():
    keys = {"GRIDGOV_PII_KEY", "GRIDGOV_PII_INDEX_KEY", "GRIDGOV_PII_KEY_VERSION",
            "GRIDGOV_PII_OLD_KEYS"}
    for name, entry in COMPOSE["services"].items():
        env = entry.get("environment") or {}
        given = {k for k in env if k.startswith("GRIDGOV_PII_")}
        if name in ("registry", "notify", "demo"):  # demo: the registry's loader
            assert given == keys, name
        else:
            assert given == set(), f"{name} gets {given}"


# --- the reverse proxy ----------------------------------------------------------------------

UPSTREAMS = (ROOT / "deploy" / "proxy" / "site-compose.conf").read_text(encoding="utf-8")


def nginx_locations() -> dict[str, str]:
    """location prefix -> proxy_pass target."""
    return dict(re.findall(r"location (/[^ ]*) \{[^}]*?proxy_pass ([^;]+);", NGINX))


def test_the_proxy_routes_every_service_under_one_origin():
    proxy = COMPOSE["services"]["proxy"]
    assert "./deploy/proxy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    # issue 15: the names are looked up per request, through Docker's DNS
    assert ("./deploy/proxy/site-compose.conf:/etc/nginx/gridgov-site.conf:ro"
            in proxy["volumes"])
    assert NGINX.count("include gridgov-site.conf;") == 1
    assert re.search(r"^resolver 127\.0\.0\.11 valid=\d+s", UPSTREAMS, re.M)
    assert "upstream " not in NGINX + UPSTREAMS  # a group would be resolved once, at start
    upstreams = dict(re.findall(r"map \$scheme \$gridgov_(\w+)\s*\{\s*default ([\w.:-]+);\s*\}",
                                UPSTREAMS))
    locations = nginx_locations()
    for svc in SERVICES:
        assert upstreams[svc] == f"{svc}:{port_of(svc)}"  # a compose service and its port
        assert locations[f"/api/{svc}/"] == f"http://$gridgov_{svc}", svc
        block = re.search(r"location /api/" + svc + r"/ \{([^}]*)\}", NGINX).group(1)
        assert f"rewrite ^/api/{svc}(/.*)$ $1 break;" in block, svc  # prefix stripped
    for target in locations.values():
        name = re.fullmatch(r"http://\$gridgov_(\w+)", target).group(1)
        assert name in upstreams and name in COMPOSE["services"]
    assert locations["/"] == "http://$gridgov_assessment"  # the dashboard at the root


def test_the_dashboard_reaches_every_service_through_the_proxy_paths():
    env = COMPOSE["services"]["assessment"]["environment"]
    urls = dict(pair.split("=", 1) for pair in env["GRIDGOV_SERVICE_URLS"].split(","))
    assert sorted(urls) == sorted(SERVICES)
    locations = nginx_locations()
    for svc, url in urls.items():
        assert url == f"http://proxy:8080/api/{svc}"
        assert f"/api/{svc}/" in locations
    assert env["GRIDGOV_REGISTRY_URL"] == "http://proxy:8080/api/registry"
    js = (ROOT / "services/assessment/dashboard/static/dashboard.js").read_text(encoding="utf-8")
    assert 'fetch("/dashboard/data"' in js  # absolute path: served at the origin's root


def test_links_people_follow_go_through_the_proxy():
    """A link in a case file or a circular is followed by a person's browser or a
    department's mail reader: it names the proxy's paths, never a service's own port."""
    circular = COMPOSE["services"]["assessment"]["environment"]["GRIDGOV_CIRCULAR_PUBLIC_URL"]
    assert circular == "${GRIDGOV_PUBLIC_URL:-http://127.0.0.1:8080}/api/assessment"
    assert "127.0.0.1:8080:8080" in COMPOSE["services"]["proxy"]["ports"]
    events = COMPOSE["services"]["dispatch"]["environment"]["GRIDGOV_EVENTS_PUBLIC_URL"]
    assert events == "/api/events"
    assert {"/api/assessment/", "/api/events/"} <= set(nginx_locations())


def test_intake_is_rate_limited_by_the_proxy():
    zones = re.findall(r"limit_req_zone \$(\w+) zone=(\w+):", NGINX)
    assert zones == [("intake_client", "intake"), ("intake_client", "open311"),
                     ("intake_client", "public")]
    assert re.search(r"map \$request_method \$intake_client \{\s*POST\s+\$binary_remote_addr;",
                     NGINX)
    for prefix, zone in (("/api/events/", "intake"), ("/api/events/open311/", "open311"),
                         ("/public/", "public")):  # the residents' page (issue 12)
        block = re.search(r"location " + re.escape(prefix) + r" \{([^}]*)\}", NGINX).group(1)
        assert f"limit_req zone={zone} " in block, prefix
    assert "limit_req_status 429;" in NGINX
    assert re.search(r"location ~ \^/api/\[a-z\]\+/metrics\$ \{\s*return 404;", NGINX)


def test_nginx_accepts_the_proxy_configuration_with_compose_names_it_cannot_resolve(tmp_path):
    """As in compose, but with no Docker DNS at all: nginx still accepts the file (issue
    15: a missing name no longer stops the proxy from starting or reloading)."""
    nginx = local_proxy.nginx_binary()
    (tmp_path / "gridgov-site.conf").write_text(UPSTREAMS)
    (tmp_path / "nginx.conf").write_text(NGINX.replace("/tmp/", f"{tmp_path}/"))
    result = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_every_python_module_a_container_runs_exists():
    """`python -m x.y` in a command of our image names a module of this repository."""
    for name, entry in COMPOSE["services"].items():
        command = entry.get("command")
        if entry.get("image") != "gridgov:latest" or not isinstance(command, list) \
                or command[:2] != ["python", "-m"]:
            continue
        module = ROOT.joinpath(*command[2].split("."))
        assert module.with_suffix(".py").is_file() or (module / "__main__.py").is_file(), name


def test_the_demo_simulator_reaches_the_services_on_their_ports():
    entry = COMPOSE["services"]["simulator"]
    assert entry["profiles"] == ["demo"]
    command = entry["command"]
    for svc in ("registry", "events", "dispatch"):
        url = command[command.index(f"--{svc}-url") + 1]
        assert url == f"http://{svc}:{port_of(svc)}", url


# --- the proxy's access log (issue 10) --------------------------------------------------------

SECRETS = {"token": "eyJhbGciOiJIUzI1NiJ9.secret-part.signature",
           "access_token": "another-secret-token-value",
           "id_number": "110105199001011234", "phone": "13800138000"}


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _nginx_serving(tmp_path: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """The real proxy configuration on a free port, its access log into ``log``, every
    upstream a closed port (502: the request is logged all the same)."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert nginx, "nginx is missing: scripts/system_deps.sh test installs nginx-light"
    port, dead = _free_port(), _free_port()
    assert log == tmp_path / "access.log"  # where local_proxy.render writes it
    conf = local_proxy.render({svc: dead for svc in SERVICES}, port, tmp_path, tmp_path)
    (tmp_path / "nginx.conf").write_text(conf)
    process = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
                                "-g", "daemon off;"], stderr=subprocess.PIPE)
    return process, port


def test_the_proxy_access_log_redacts_tokens_id_numbers_and_phones(tmp_path):
    import requests
    log = tmp_path / "access.log"
    process, port = _nginx_serving(tmp_path, log)
    try:
        base = f"http://127.0.0.1:{port}"
        import time
        deadline = time.monotonic() + 30
        while True:  # until nginx listens (bounded)
            try:
                requests.get(f"{base}/proxy-healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        paths = [
            f"/dashboard?token={SECRETS['token']}&lang=en",
            f"/api/registry/residents?Phone={SECRETS['phone']}&id_number={SECRETS['id_number']}",
            f"/api/assessment/x?access_token={SECRETS['access_token']}",
            f"/api/events/cases?jwt={SECRETS['access_token']}x&Bearer={SECRETS['token']}y",
            # a repeated name: the whole query is withheld
            f"/api/registry/search?phone=1&phone={SECRETS['phone']}",
        ]
        for path in paths:
            requests.get(base + path, timeout=10,
                         headers={"Referer": f"{base}/dashboard?token={SECRETS['token']}"})
        deadline = time.monotonic() + 10
        while len(log.read_text().splitlines()) < len(paths):  # healthz is not logged
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    for value in SECRETS.values():
        assert value not in text, text
    assert "GET /dashboard?token=[REDACTED]&lang=en HTTP/1.1" in text
    assert "?Phone=[REDACTED]&id_number=[REDACTED]" in text
    assert "/api/registry/search?[query withheld]" in text
    assert "/api/events/cases?jwt=[REDACTED]&Bearer=[REDACTED]" in text
    assert text.count("/dashboard?[query withheld]") == len(paths)  # the referer


def test_department_pushes_need_the_departments_own_broker_user():
    """Issue 10: registry and events take pushes only from dept.<code> (on by default)."""
    for svc in ("registry", "events"):
        env = COMPOSE["services"][svc]["environment"]
        assert env["GRIDGOV_REQUIRE_INTAKE_USER_ID"] == "${GRIDGOV_REQUIRE_INTAKE_USER_ID:-true}"


def test_dispatch_takes_reports_only_from_the_departments_own_user():
    """Issue 10: compose's simulated departments log in as dept.<code>, each with its own
    password from .env, which the definitions job hashes into the broker's users; so
    dispatch can require that user on every report, as production does."""
    from tools.bus_users import DEMO_DEPARTMENTS
    from tools.department_adapter.simulate import DEFAULT_DEPARTMENTS, build_parser

    dispatch = COMPOSE["services"]["dispatch"]["environment"]
    assert dispatch["GRIDGOV_REQUIRE_REPORT_USER_ID"] == "${GRIDGOV_REQUIRE_REPORT_USER_ID:-true}"
    passwords = {f"GRIDGOV_BUS_PASSWORD_{code.upper()}" for code in DEMO_DEPARTMENTS}
    assert set(DEFAULT_DEPARTMENTS) == set(DEMO_DEPARTMENTS)  # every simulated one has one
    job = COMPOSE["services"]["rabbitmq-definitions"]
    assert "--password-env-prefix GRIDGOV_BUS_PASSWORD_" in " ".join(job["command"])
    assert passwords <= set(job["environment"])

    departments = COMPOSE["services"]["departments"]
    args = build_parser().parse_args(departments["command"][3:])
    assert departments["command"][:3] == ["python", "-m", "tools.department_adapter.simulate"]
    assert args.password_env_prefix == "GRIDGOV_BUS_PASSWORD_"
    env = departments["environment"]
    assert passwords <= set(env)
    # host and vhost only: no administrator's (or anyone's) credentials in its URL
    assert env["DEPARTMENT_AMQP_URL"] == "amqp://rabbitmq:5672/"
    assert "GRIDGOV_AMQP_URI" not in env and "GRIDGOV_AMQP_PASSWORD" not in env


def test_the_residents_page_goes_to_events():
    """Issue 12: /report and /public/* are served by events, at the proxy's root."""
    for prefix in ("location = /report ", "location /report/ ", "location /public/ "):
        block = re.search(re.escape(prefix) + r"\{([^}]*)\}", NGINX).group(1)
        assert "proxy_pass http://$gridgov_events;" in block, prefix


# --- replicas and connections (issue 15, items 3 and 6) -------------------------------------

@pytest.mark.parametrize("svc", SERVICES)
def test_replica_counts_are_configuration_kept_by_every_up(svc):
    """`--scale` alone was lost by the next plain `up -d`; deploy.replicas is not."""
    assert COMPOSE["services"][svc]["deploy"]["replicas"] == (
        f"${{GRIDGOV_{svc.upper()}_REPLICAS:-1}}")


def _default(text: str) -> int:
    return int(re.fullmatch(r"\$\{\w+:-(\d+)\}", text).group(1))


def test_postgres_allows_the_connections_the_replicas_may_open():
    """deploy/README.md "Database connections": 24 per process (pool + overflow, relay's
    pool + overflow) x processes + 10, at the defaults and at 3 events + 2 dispatch."""
    from gridgov_common.platform import db, outbox
    per_process = 2 * db.DEFAULT_POOL_SIZE + 2 * outbox.RELAY_POOL_SIZE
    assert per_process == 24  # the figure the runbook and the compose comment give
    command = COMPOSE["services"]["postgres"]["command"]
    setting = next(arg for arg in command if arg.startswith("max_connections="))
    allowed = _default(setting.partition("=")[2])
    replicas = {svc: _default(COMPOSE["services"][svc]["deploy"]["replicas"])
                for svc in SERVICES}
    assert per_process * sum(replicas.values()) + 10 <= allowed
    scaled = dict(replicas, events=3, dispatch=2)
    assert per_process * sum(scaled.values()) + 10 <= allowed
    runbook = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    assert "max_connections >= 24 x (replicas of all five services) + 10" in runbook
    assert f"`GRIDGOV_PG_MAX_CONNECTIONS` (default {allowed})" in runbook
