"""deploy/k8s: render the kustomizations, validate every object, cross-check with the code.

No cluster is needed. Rendering: a small renderer for the subset of kustomize the files use
(resources, namespace, images, replicas, JSON 6902 patches, one configMapGenerator without
hash suffix); where `kubectl` is installed its `kubectl kustomize` output must be the same
objects. Built-in kinds: kubernetes-validate (strict) for K8S_VERSION; the operators' kinds:
the trimmed CRD schemas in tests/schemas/ (see their README).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
K8S_VERSION = "1.32.0"
DEFAULT_TEST_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov_test"
SERVICES = ("registry", "events", "dispatch", "assessment", "notify")
RECOMMENDED = ("app.kubernetes.io/name", "app.kubernetes.io/instance",
               "app.kubernetes.io/component", "app.kubernetes.io/part-of",
               "app.kubernetes.io/managed-by")
CRD_SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmq.com_rabbitmqcluster.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_cluster.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "postgresql.cnpg.io_scheduledbackup.json",
}
# Variables the manifests define only to build others ($(VAR) expansion), and
# PSYCOPG_WAIT_FUNC, read by psycopg itself (gridgov_common/platform/greening.py).
HELPER_ENV = {"DB_USER", "DB_PASSWORD", "GRIDGOV_AMQP_PASSWORD", "PSYCOPG_WAIT_FUNC"}


# --- the renderer ---------------------------------------------------------------------

def _json_patch(doc: dict, ops: list[dict]) -> None:
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~")
                          for p in op["path"].lstrip("/").split("/")]
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if op["op"] in ("replace", "add"):
            if isinstance(node, list):
                node.insert(len(node) if last == "-" else int(last), op["value"]) \
                    if op["op"] == "add" else node.__setitem__(int(last), op["value"])
            else:
                assert op["op"] == "add" or last in node, op
                node[last] = op["value"]
        elif op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            raise AssertionError(f"unsupported patch op {op['op']}")


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("initContainers", []) + spec.get("containers", [])


def render(directory: Path) -> list[dict]:
    """The objects `kustomize build directory` gives, for the subset these files use."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    known = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches",
             "configMapGenerator", "generatorOptions"}
    assert set(kust) <= known, f"renderer does not know {set(kust) - known}"
    docs: list[dict] = []
    for entry in kust.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs.extend(render(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    assert kust.get("generatorOptions", {}).get("disableNameSuffixHash", not
                                                 kust.get("configMapGenerator")), \
        "name hashes are not rendered: keep disableNameSuffixHash"
    for gen in kust.get("configMapGenerator", []):
        data = {}
        for item in gen["files"]:
            key, _, rel = item.partition("=")
            data[key] = (directory / rel).read_text(encoding="utf-8")
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": gen["name"]}, "data": data})
    for image in kust.get("images", []):
        for doc in docs:
            for container in _containers(doc):
                name = container["image"].split(":")[0]
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    for rep in kust.get("replicas", []):
        matches = [d for d in docs if d["metadata"]["name"] == rep["name"]
                   and d["kind"] in ("Deployment", "StatefulSet")]
        assert len(matches) == 1, rep
        matches[0]["spec"]["replicas"] = rep["count"]
    for patch in kust.get("patches", []):
        target = patch["target"]
        matches = [d for d in docs if d["kind"] == target["kind"]
                   and d["metadata"]["name"] == target["name"]]
        assert len(matches) == 1, target
        _json_patch(matches[0], yaml.safe_load(patch["patch"]))
    if "namespace" in kust:
        for doc in docs:
            doc["metadata"]["namespace"] = kust["namespace"]
    return docs


def by_key(docs: list[dict]) -> dict[tuple[str, str], dict]:
    out = {}
    for doc in docs:
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in out, f"duplicate {key}"
        out[key] = doc
    return out


BASE = by_key(render(K8S / "base"))
PRODUCTION = by_key(render(K8S / "overlays" / "production"))


# --- rendering ------------------------------------------------------------------------

@pytest.mark.parametrize("directory", ["base", "overlays/production"])
def test_kubectl_kustomize_renders_the_same_objects(directory):
    kubectl = shutil.which("kubectl")
    # the machine image ships kubectl (Debian package kubectl); it is not in Debian's
    # archive, so .ci/run cannot install it — a machine without it fails here, visibly
    assert kubectl, "kubectl is missing: our renderer cannot be checked against kustomize"
    result = subprocess.run([kubectl, "kustomize", str(K8S / directory)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    theirs = by_key([d for d in yaml.safe_load_all(result.stdout) if d])
    ours = BASE if directory == "base" else PRODUCTION
    assert theirs == ours


def test_the_overlay_sets_image_namespace_replicas_and_autoscaling():
    for svc in SERVICES:
        deployment = PRODUCTION[("Deployment", svc)]
        assert deployment["metadata"]["namespace"] == "gridgov"
        for container in _containers(deployment):
            assert container["image"].startswith("registry.district.example/gridgov/gridgov:")
    assert PRODUCTION[("Deployment", "events")]["spec"]["replicas"] == 3
    hpa = PRODUCTION[("HorizontalPodAutoscaler", "dispatch")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert BASE[("HorizontalPodAutoscaler", "dispatch")]["spec"]["minReplicas"] == 2


# --- validation -----------------------------------------------------------------------

@pytest.mark.parametrize("objects", [BASE, PRODUCTION], ids=["base", "production"])
def test_every_object_validates(objects):
    checked = set()
    for (kind, _name), doc in objects.items():
        schema_file = CRD_SCHEMAS.get((doc["apiVersion"], kind))
        if schema_file:
            schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
            jsonschema.Draft202012Validator(schema).validate(doc)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked.add(kind)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job",
            "ConfigMap", "Ingress", "RabbitmqCluster", "Cluster", "ScheduledBackup"} <= checked


def test_validation_is_not_vacuous():
    """The validators refuse a typo, so the test above means something."""
    deployment = copy.deepcopy(BASE[("Deployment", "registry")])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    rabbit = copy.deepcopy(BASE[("RabbitmqCluster", "gridgov-rabbitmq")])
    rabbit["spec"]["replica"] = 3
    schema = json.loads((SCHEMAS / CRD_SCHEMAS[(rabbit["apiVersion"], rabbit["kind"])]).read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rabbit, schema)
    cluster = copy.deepcopy(BASE[("Cluster", "gridgov-db")])
    cluster["spec"]["backup"]["retentionPolicy"] = "30 days"
    schema = json.loads((SCHEMAS / CRD_SCHEMAS[(cluster["apiVersion"], "Cluster")]).read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cluster, schema)


# --- cross-checks with the code ---------------------------------------------------------

def platform_routes() -> set[str]:
    text = (ROOT / "gridgov_common" / "platform" / "service.py").read_text(encoding="utf-8")
    return set(re.findall(r'@http\("GET", "(/[a-z]+)"', text))


def config_port_and_vars(svc: str) -> tuple[int, set[str]]:
    text = (ROOT / "services" / svc / "config.yaml").read_text(encoding="utf-8")
    port = re.search(r"\{" + svc.upper() + r"_HTTP_PORT:(\d+)\}", text)
    assert port, svc
    return int(port.group(1)), set(re.findall(r"\$\{([A-Z0-9_]+):", text))


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_has_deployment_service_hpa_pdb_wired_together(svc):
    assert {"/healthz", "/readyz"} <= platform_routes()
    port, variables = config_port_and_vars(svc)
    deployment = BASE[("Deployment", svc)]
    labels = deployment["metadata"]["labels"]
    assert all(labels.get(key) for key in RECOMMENDED), labels
    assert labels["app.kubernetes.io/name"] == svc
    selector = deployment["spec"]["selector"]["matchLabels"]
    template = deployment["spec"]["template"]
    assert selector.items() <= template["metadata"]["labels"].items()
    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["command"] == ["nameko", "run", "--config", f"services/{svc}/config.yaml",
                                    f"services.{svc}.service"]
    assert (ROOT / "services" / svc / "service.py").is_file()
    (http,) = container["ports"]
    assert (http["name"], http["containerPort"]) == ("http", port)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    (init,) = pod["initContainers"]
    assert init["command"][:2] == ["python", "scripts/wait_migrated.py"]
    assert (ROOT / "scripts" / "wait_migrated.py").is_file()
    # every variable given to the service is read by its config.yaml (or builds one that is)
    names = {e["name"] for e in container["env"]}
    assert names - HELPER_ENV <= variables, names - HELPER_ENV - variables
    config = BASE[("ConfigMap", "gridgov-config")]["data"]
    assert set(config) - HELPER_ENV <= variables | {"GRIDGOV_REQUIRE_REPORT_USER_ID",
                                                    "GRIDGOV_REQUIRE_INTAKE_USER_ID"}
    service = BASE[("Service", svc)]
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"][0]["port"] == port
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = BASE[("HorizontalPodAutoscaler", svc)]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": svc}
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = BASE[("PodDisruptionBudget", svc)]
    assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_the_dispatch_flag_is_read_by_dispatch():
    _, variables = config_port_and_vars("dispatch")
    assert "GRIDGOV_REQUIRE_REPORT_USER_ID" in variables


def test_production_requires_each_departments_own_broker_user():
    """Issue 10: reports and pushes only from dept.<code> (on in the k8s config), read by
    the services that consume departments' messages."""
    config = BASE[("ConfigMap", "gridgov-config")]["data"]
    assert config["GRIDGOV_REQUIRE_REPORT_USER_ID"] == "true"
    assert config["GRIDGOV_REQUIRE_INTAKE_USER_ID"] == "true"
    for svc in ("registry", "events"):
        _, variables = config_port_and_vars(svc)
        assert "GRIDGOV_REQUIRE_INTAKE_USER_ID" in variables, svc


def test_secrets_come_from_secrets_and_urls_from_the_operators_services():
    for svc in SERVICES:
        container = BASE[("Deployment", svc)]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        for name in ("DB_USER", "DB_PASSWORD", "GRIDGOV_AMQP_PASSWORD"):
            assert "secretKeyRef" in env[name]["valueFrom"], name
        assert "@gridgov-db-rw:5432/gridgov" in env[f"GRIDGOV_{svc.upper()}_DB_URL"]["value"]
        assert "@gridgov-rabbitmq:5672/" in env["GRIDGOV_AMQP_URI"]["value"]
        # issue 10: its own broker user, with its own password, not the administrator's
        assert env["GRIDGOV_AMQP_URI"]["value"].startswith(f"pyamqp://svc.{svc}:")
        assert env["GRIDGOV_AMQP_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "gridgov-secrets", "key": f"GRIDGOV_AMQP_PASSWORD_{svc.upper()}"}
        assert not [e for e in container["env"] if "//gridgov:" in e.get("value", "")]
        refs = [r.get("secretRef", {}).get("name") for r in container["envFrom"]]
        assert "gridgov-secrets" in refs
        assert not any(re.search(r"(SECRET|KEY|PASSWORD)", e["name"]) and "value" in e
                       for e in container["env"]), "a secret written into a manifest"
    job = BASE[("Job", "gridgov-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["python", "-m", "gridgov_common.platform.migrate", "upgrade"]


def _secret_refs(container: dict) -> set[str]:
    refs = {r["secretRef"]["name"] for r in container.get("envFrom", []) if "secretRef" in r}
    return refs | {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                   if "secretKeyRef" in e.get("valueFrom", {})}


@pytest.mark.parametrize("svc", SERVICES)
def test_each_service_logs_in_as_its_own_managed_role(svc):
    """Issue 10 item 2: gridgov_<svc> (a CNPG managed role, no administrator rights) with
    rights on its own schema only; the database owner's Secret reaches only the Job."""
    pod = BASE[("Deployment", svc)]["spec"]["template"]["spec"]
    (container,), (init,) = pod["containers"], pod["initContainers"]
    for c in (container, init):
        env = {e["name"]: e for e in c["env"]}
        for name, key in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": f"gridgov-db-{svc}",
                                                              "key": key}
        assert "gridgov-db-app" not in _secret_refs(c)
        assert not any(k.endswith("_DB_URL") and k not in (
            f"GRIDGOV_{svc.upper()}_DB_URL", "GRIDGOV_DB_URL") for k in env)
    assert init["command"][-1] == svc  # waits for its own schema, the one it may read
    roles = {r["name"]: r for r in BASE[("Cluster", "gridgov-db")]["spec"]["managed"]["roles"]}
    role = roles[f"gridgov_{svc}"]
    assert role["ensure"] == "present" and role["login"] is True
    assert role["passwordSecret"] == {"name": f"gridgov-db-{svc}"}
    assert not any(role.get(k) for k in ("superuser", "createdb", "createrole", "replication",
                                         "bypassrls", "inRoles"))


def test_the_migration_job_alone_is_the_owner_and_only_two_services_get_the_pii_keys():
    db = BASE[("Cluster", "gridgov-db")]["spec"]
    job = BASE[("Job", "gridgov-migrate")]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in job["env"]}
    assert env["GRIDGOV_DB_OWNER"]["value"] == db["bootstrap"]["initdb"]["owner"]
    assert env["DB_USER"]["valueFrom"]["secretKeyRef"]["name"] == "gridgov-db-app"
    assert "gridgov-pii-keys" not in _secret_refs(job)
    for (kind, name), doc in BASE.items():
        for container in _containers(doc) if kind in ("Deployment", "Job") else []:
            refs = _secret_refs(container)
            if "gridgov-db-app" in refs:
                assert (kind, name) == ("Job", "gridgov-migrate"), name
            decrypts = kind == "Deployment" and name in ("registry", "notify") \
                and container in doc["spec"]["template"]["spec"]["containers"]
            assert ("gridgov-pii-keys" in refs) == decrypts, (name, container["name"])
    config = (K8S / "base" / "config.yaml").read_text(encoding="utf-8")
    assert "gridgov-pii-keys (registry and notify only" in config


def test_broker_and_database_clusters():
    rabbit = BASE[("RabbitmqCluster", "gridgov-rabbitmq")]["spec"]
    assert rabbit["replicas"] == 3
    extra = rabbit["rabbitmq"]["additionalConfig"]
    assert "default_queue_type = quorum" in extra
    # the same definitions keys as the compose broker, pointing at the mounted Secret
    conf = (ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text(encoding="utf-8")
    keys = [line.split("=")[0].strip() for line in conf.splitlines()
            if line.startswith("definitions.")]
    assert keys and all(f"{key} =" in extra for key in keys)
    path = re.search(r"definitions\.local\.path = (\S+)", extra).group(1)
    sts = rabbit["override"]["statefulSet"]["spec"]["template"]["spec"]
    mount = sts["containers"][0]["volumeMounts"][0]
    assert path == f"{mount['mountPath']}/definitions.json"
    assert sts["volumes"][0]["secret"]["secretName"] == "gridgov-rabbitmq-definitions"
    db = BASE[("Cluster", "gridgov-db")]["spec"]
    assert db["instances"] == 3
    assert db["bootstrap"]["initdb"] == {"database": "gridgov", "owner": "gridgov"}
    assert db["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    assert BASE[("ScheduledBackup", "gridgov-db-daily")]["spec"]["cluster"]["name"] == "gridgov-db"


def test_the_code_declares_quorum_queues():
    """Why the broker's default queue type matters only for nameko's own RPC queues."""
    from gridgov_common.platform import messaging
    assert messaging.consumer_queue_arguments("x", 5)["x-queue-type"] == "quorum"
    assert messaging.dead_letter_queue("x").queue_arguments == {"x-queue-type": "quorum"}


def test_the_proxy_config_map_is_deploy_proxy_nginx_conf_and_the_ingress_reaches_it():
    nginx = (ROOT / "deploy" / "proxy" / "nginx.conf").read_text(encoding="utf-8")
    assert BASE[("ConfigMap", "gridgov-proxy")]["data"]["nginx.conf"] == nginx
    ingress = BASE[("Ingress", "gridgov")]["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in ingress] == ["proxy"]
    assert ("Service", "proxy") in BASE and ("Deployment", "proxy") in BASE
    # the upstreams it includes: the Services, as groups (resolved once: stable ClusterIPs)
    included = BASE[("ConfigMap", "gridgov-proxy")]["data"]["gridgov-site.conf"]
    mounts = {m["mountPath"]: m.get("subPath") for m in
              _containers(BASE[("Deployment", "proxy")])[0]["volumeMounts"]}
    assert mounts["/etc/nginx/gridgov-site.conf"] == "gridgov-site.conf"
    assert "include gridgov-site.conf;" in nginx
    upstreams = dict(re.findall(r"upstream (\w+)\s*\{\s*server (\S+);", included))
    variables = dict(re.findall(r"map \$scheme \$gridgov_(\w+)\s*\{\s*default (\w+);", included))
    for svc in SERVICES:
        port, _ = config_port_and_vars(svc)
        assert upstreams[svc] == f"{svc}:{port}"  # = the Service's name and port
        assert variables[svc] == svc  # the variable names the group


# --- the init container's check, on the real PostgreSQL -----------------------------------

def test_wait_migrated_waits_for_the_heads_of_every_service():
    base = sa.engine.make_url(os.environ.get("GRIDGOV_TEST_DB_URL", DEFAULT_TEST_DB))
    url = base.set(database=f"{base.database}_waitmig")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    env = {**os.environ, "GRIDGOV_DB_URL": url.render_as_string(hide_password=False)}
    try:
        def run(*args):
            return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, text=True,
                                  capture_output=True, timeout=300)
        before = run("scripts/wait_migrated.py", "--timeout", "0")
        assert before.returncode == 1
        assert "registry at nothing" in before.stderr
        assert run("-m", "gridgov_common.platform.migrate", "upgrade").returncode == 0
        after = run("scripts/wait_migrated.py", "--timeout", "0")
        assert after.returncode == 0, after.stderr
        assert "at head" in after.stdout
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()
