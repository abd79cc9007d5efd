"""Key and secret rotation without downtime or data loss (issue 5; deploy/README.md
"Rotating keys and passwords"), on the real PostgreSQL, RabbitMQ and services:

- the PII key: residents written under key 1 are read by a registry running key 2 with key
  1 kept as an old key; ``rekey-pii`` rewrites them (batched, idempotent, resumable); the
  registry then runs with key 2 alone and still reads every row; notify's encrypted
  contacts the same way;
- the token signing secret: tokens of the previous secret are accepted during the overlap,
  tokens of an unknown secret refused;
- a webhook's signing secret: during the overlap both signatures arrive, and a receiver
  holding either secret verifies the delivery;
- a department's bus password: rotated in place, the old one refused by the broker.
"""

# ruff: noqa: F811  (fixtures imported from other test packages are parameters here)
from __future__ import annotations

import base64
import json
import os
import secrets

import pytest
import sqlalchemy as sa
from pika.exceptions import ProbableAuthenticationError

from gridgov_common.kernel import auth, pii
from gridgov_common.kernel.errors import Unauthorized
from gridgov_common.platform import rekey
from services.notify import cli as notify_cli
from services.notify.channels import SIGNATURE_HEADER, verify
from services.notify.service import NotifyService
from services.registry import cli as registry_cli
from services.registry.service import RegistryService
from tests.amqp import wait_until
from tests.notify.conftest import (  # noqa: F401  (fixtures)
    clean_db,
    events_sink,
    notify,
    request_envelope,
    send_request,
    sms_gateway,
    smtp,
    webhook,
)
from tests.registry.conftest import (  # noqa: F401  (fixtures)
    ADMIN_SCOPE,
    GRID_A,
    admin,
    clean_registry,
    district,
    id_number,
    registry,
)
from tests.test_bus_users import _connect, _login, bus  # noqa: F401  (fixture)
from tools import bus_users

PEOPLE = [(id_number("19491231", f"{n:03d}"), f"1381234{n:04d}") for n in range(2, 12)]
REASON = "密钥轮换核对"


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def versions(db_engine, table: str, column: str) -> list[int]:
    with db_engine.connect() as conn:
        return sorted(conn.execute(sa.text(
            f"SELECT get_byte({column}, 0) FROM {table} WHERE {column} IS NOT NULL")).scalars())


def cli_env(monkeypatch, db_url: str, settings: dict[str, str]) -> None:
    """The CLIs read the environment (GRIDGOV_*), as in production."""
    monkeypatch.setenv("GRIDGOV_DB_URL", db_url)
    for name in ("PII_KEY", "PII_INDEX_KEY", "PII_KEY_VERSION", "PII_OLD_KEYS"):
        monkeypatch.setenv(f"GRIDGOV_{name}", settings.get(name, ""))


def run_cli(main, argv: list[str], capsys) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


# --- the PII key on the registry ----------------------------------------------------------

def test_pii_key_rotation_on_a_registry_with_residents(
        registry, district, admin, web_session, token, container_factory, service_config,
        platform_secrets, db_engine, db_url, monkeypatch, capsys):
    worker = token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="worker-a")

    def register(person, phone) -> int:
        created = web_session.post("/residents", headers=worker, json={
            "household_id": district["household"]["id"], "name": "王五", "id_number": person,
            "phone": phone})
        assert created.status_code == 201, created.text
        return created.json()["id"]

    def read(rid) -> tuple[str, str]:
        shown = web_session.get(f"/residents/{rid}", headers=worker,
                                params={"unmask": "id_number,phone", "reason": REASON})
        assert shown.status_code == 200, shown.text
        return shown.json()["id_number"], shown.json()["phone"]

    def restart(**keys):
        nonlocal running
        running.stop()
        running = container_factory(RegistryService, service_config("registry", **keys))
        running.start()

    running = registry
    old = {"PII_KEY": platform_secrets["PII_KEY"],
           "PII_INDEX_KEY": platform_secrets["PII_INDEX_KEY"]}
    ids = {register(p, ph): (p, ph) for p, ph in PEOPLE[:8]}
    assert set(versions(db_engine, "registry.residents", "id_number_enc")) == {1}

    # step 1 (rolling restart): key 2 known but not yet used; key-1 replicas can read it
    key2 = new_key()
    cipher_1_knows_2 = pii.cipher_from_settings({**old, "PII_OLD_KEYS": f"2:{key2}"})
    rotated = {**old, "PII_KEY": key2, "PII_KEY_VERSION": "2",
               "PII_OLD_KEYS": f"1:{old['PII_KEY']}"}
    cipher_2 = pii.cipher_from_settings(rotated)
    assert cipher_1_knows_2.decrypt(cipher_2.encrypt("x", "phone"), "phone") == "x"

    # step 2: key 2 current, key 1 old: old rows read, new rows written under key 2
    restart(**rotated)
    assert {rid: read(rid) for rid in ids} == ids
    person, phone = PEOPLE[8]
    fresh = register(person, phone)
    ids[fresh] = (person, phone)
    assert read(fresh) == (person, phone)
    assert versions(db_engine, "registry.residents", "id_number_enc").count(2) == 1

    # step 3: re-encrypt, resumably: a run stopped after one batch leaves the rest to the next
    cli_env(monkeypatch, db_url, rotated)
    before = run_cli(registry_cli.main, ["rekey-pii", "--status"], capsys)
    assert before["blobs_by_version"]["registry.residents.id_number_enc"] == {"1": 8, "2": 1}
    assert before["old_keys_removable"] == [] and before["old_versions_still_used"] == [1]

    class Stop(Exception):
        pass

    def stop_after_first(_name, _rows):
        raise Stop

    with pytest.raises(Stop):
        rekey.rekey(db_engine, cipher_2, registry_cli.PII_TARGETS, batch=3,
                    progress=stop_after_first)
    assert versions(db_engine, "registry.residents", "id_number_enc").count(1) == 5
    done = run_cli(registry_cli.main, ["rekey-pii", "--batch", "2"], capsys)
    assert done["rows_rewritten"] == {"registry.residents": 5}
    assert done["blobs_reencrypted"] == {"registry.residents.id_number_enc": 5,
                                         "registry.residents.phone_enc": 5}
    assert done["batches"] == 3
    assert done["old_keys_removable"] == [1]
    again = run_cli(registry_cli.main, ["rekey-pii"], capsys)  # idempotent
    assert again["rows_rewritten"] == {} and again["batches"] == 0

    # step 4: key 1 removed; every row still reads, and the blind index still finds people
    restart(PII_KEY=key2, PII_KEY_VERSION="2", PII_INDEX_KEY=old["PII_INDEX_KEY"],
            PII_OLD_KEYS="")
    assert {rid: read(rid) for rid in ids} == ids
    assert set(versions(db_engine, "registry.residents", "phone_enc")) == {2}
    found = web_session.post("/search", headers=admin,
                            json={"id_number": PEOPLE[0][0], "reason": REASON})
    assert found.status_code == 200, found.text
    first = next(rid for rid, (person, _) in ids.items() if person == PEOPLE[0][0])
    assert [m["resident"]["id"] for m in found.json()["residents"]] == [first]
    person, phone = PEOPLE[9]
    assert read(register(person, phone)) == (person, phone)


def test_rekey_stops_on_a_blob_whose_key_is_gone(registry, district, web_session, token,
                                                 platform_secrets, db_url, monkeypatch,
                                                 capsys):
    worker = token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="worker-a")
    created = web_session.post("/residents", headers=worker, json={
        "household_id": district["household"]["id"], "name": "赵六",
        "id_number": PEOPLE[0][0]})
    assert created.status_code == 201, created.text
    # key 1 dropped too early: nothing is written, the operator is told which key is missing
    cli_env(monkeypatch, db_url, {"PII_KEY": new_key(), "PII_KEY_VERSION": "2",
                                  "PII_INDEX_KEY": platform_secrets["PII_INDEX_KEY"]})
    assert registry_cli.main(["rekey-pii"]) == 2
    assert "no key for ciphertext version 1" in capsys.readouterr().err


# --- notify: encrypted contacts and webhook secrets ---------------------------------------

def subscribe_webhook(web_session, admin, url: str, secret: str | None = None) -> dict:
    body = {"role": "department_officer", "scope": "department:fire", "channel": "webhook",
            "address": f"{url}/hooks/gridgov", "locale": "en"}
    if secret:
        body["secret"] = secret
    created = web_session.post("/subscriptions", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()


def deliver(rabbit_config, webhook, count: int) -> dict:
    send_request(rabbit_config["AMQP_URI"], request_envelope(
        [{"role": "department_officer", "scope": "department:fire"}]))
    assert wait_until(lambda: len(webhook.requests) >= count), len(webhook.requests)
    return webhook.requests[count - 1]


def test_webhook_secret_rotation_signs_with_both_during_the_overlap(
        notify, web_session, token, webhook, rabbit_config):
    admin = token("district_admin", ADMIN_SCOPE)
    first = subscribe_webhook(web_session, admin, webhook.url)
    path = f"/subscriptions/{first['subscription_id']}/secret"
    rotated = web_session.post(path, json={"overlap_hours": 2}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["secret"] != first["secret"] and second["previous_secret_until"]
    assert "secret" not in web_session.get(path[:-len("/secret")], headers=admin).json()

    hit = deliver(rabbit_config, webhook, 1)
    header = hit["headers"][SIGNATURE_HEADER]
    assert len(header.split(",")) == 2
    assert verify(first["secret"], hit["raw"], header)  # a receiver not yet switched
    assert verify(second["secret"], hit["raw"], header)  # a receiver already switched
    assert not verify("an-unknown-secret-value", hit["raw"], header)

    # the overlap ends at once (0 h): only the newest secret signs
    third = web_session.post(path, json={"overlap_hours": 0, "secret": "s" * 20},
                             headers=admin).json()
    assert third["previous_secret_until"] is None
    hit = deliver(rabbit_config, webhook, 2)
    assert hit["headers"][SIGNATURE_HEADER].count("sha256=") == 1
    assert verify("s" * 20, hit["raw"], hit["headers"][SIGNATURE_HEADER])
    assert not verify(second["secret"], hit["raw"], hit["headers"][SIGNATURE_HEADER])

    assert web_session.post("/subscriptions/999999/secret", json={},
                            headers=admin).status_code == 404
    assert web_session.post(path, json={"overlap_hours": -1}, headers=admin).status_code == 422
    assert web_session.post(path, json={}, headers=token("ops_viewer", ADMIN_SCOPE)
                            ).status_code == 403
    mail = web_session.post("/subscriptions", headers=admin, json={
        "role": "department_officer", "scope": "department:fire", "channel": "email",
        "address": "duty@fire.example.cn"}).json()
    refused = web_session.post(f"/subscriptions/{mail['subscription_id']}/secret", json={},
                               headers=admin)
    assert refused.status_code == 422, refused.text


def test_notify_contacts_rekeyed_and_sent_under_the_new_key_alone(
        notify, web_session, token, webhook, rabbit_config, container_factory,
        service_config, platform_secrets, db_engine, db_url, monkeypatch, capsys):
    admin = token("district_admin", ADMIN_SCOPE)
    made = subscribe_webhook(web_session, admin, webhook.url)
    assert notify_cli.main(["rotate-secret", str(made["subscription_id"]),
                            "--overlap-hours", "1"]) == 2  # no keys in the environment
    capsys.readouterr()
    key2 = new_key()
    rotated = {"PII_KEY": key2, "PII_KEY_VERSION": "2",
               "PII_INDEX_KEY": platform_secrets["PII_INDEX_KEY"],
               "PII_OLD_KEYS": f"1:{platform_secrets['PII_KEY']}"}
    cli_env(monkeypatch, db_url, rotated)
    second = run_cli(notify_cli.main, ["rotate-secret", str(made["subscription_id"]),
                                       "--overlap-hours", "1"], capsys)
    done = run_cli(notify_cli.main, ["rekey-pii"], capsys)
    assert done["rows_rewritten"] == {"notify.subscriptions": 1}
    assert done["old_keys_removable"] == [1]
    for column in ("address_enc", "secret_enc", "previous_secret_enc"):
        assert versions(db_engine, "notify.subscriptions", column) == [2]

    notify.stop()  # key 1 gone from the service
    config = service_config("notify", **{**rotated, "PII_OLD_KEYS": "",
                                         "SEND_POLL_SECONDS": 0.05})
    container_factory(NotifyService, config).start()
    hit = deliver(rabbit_config, webhook, 1)
    assert hit["path"] == "/hooks/gridgov"
    assert verify(made["secret"], hit["raw"], hit["headers"][SIGNATURE_HEADER])
    assert verify(second["secret"], hit["raw"], hit["headers"][SIGNATURE_HEADER])


# --- the token signing secret -------------------------------------------------------------

def test_tokens_of_the_previous_secret_accepted_unknown_refused(
        container_factory, service_config, web_session, clean_registry,
        platform_secrets):
    current, previous = secrets.token_urlsafe(48), platform_secrets["JWT_SECRET"]
    container_factory(RegistryService, service_config(
        "registry", JWT_SECRET=current, JWT_PREVIOUS_SECRET=previous)).start()

    def status(secret: str) -> tuple[int, str]:
        value = auth.mint(secret, "ops-1", "district_admin", ADMIN_SCOPE, ttl_seconds=600)
        answer = web_session.get("/grids", headers={"Authorization": f"Bearer {value}"})
        body = answer.json()
        return answer.status_code, body["error"]["code"] if answer.status_code >= 400 else ""

    assert status(current)[0] == 200
    assert status(previous)[0] == 200  # minted before the switch
    assert status(secrets.token_urlsafe(48)) == (401, "invalid_token")
    expired = auth.mint(previous, "ops-1", "district_admin", ADMIN_SCOPE, ttl_seconds=60,
                        now=1_000_000)
    with pytest.raises(Unauthorized) as info:
        auth.verify(current, expired, previous)
    assert info.value.code == "token_expired"


def test_without_a_previous_secret_old_tokens_are_refused(platform_secrets):
    old = auth.mint(platform_secrets["JWT_SECRET"], "ops-1", "district_admin", ADMIN_SCOPE)
    with pytest.raises(Unauthorized) as info:
        auth.verify(secrets.token_urlsafe(48), old)
    assert info.value.code == "invalid_token"
    assert auth.verify(secrets.token_urlsafe(48), old,
                       platform_secrets["JWT_SECRET"]).sub == "ops-1"


# --- a department's bus password ----------------------------------------------------------

def test_bus_password_rotated_in_place_old_one_refused(bus, monkeypatch, capsys):
    fire = bus["depts"]["a"]
    monkeypatch.setenv("TEST_ROTATED_PW", "rotated-" + secrets.token_hex(8))
    argv = ["--vhost", bus["vhost"], "rotate", fire, "--password-env", "TEST_ROTATED_PW"]
    assert bus_users.main(argv) == 0
    assert capsys.readouterr().out.strip() == f"rotated {bus_users.user_name(fire)}"
    with pytest.raises(ProbableAuthenticationError):
        _login(bus, "a")
    fresh = _connect(bus["vhost"], bus_users.user_name(fire), os.environ["TEST_ROTATED_PW"])
    try:  # the grants survived: its own queue is still readable
        channel = fresh.channel()
        channel.queue_declare(f"dept.{fire}.assignments", passive=True)
        channel.basic_get(f"dept.{fire}.assignments", auto_ack=False)
    finally:
        fresh.close()
    # rotation never creates an account from a typo
    assert bus_users.main(["--vhost", bus["vhost"], "rotate", fire + "x"]) == 2
    assert bus_users.user_name(fire + "x") not in bus["api"].list()


def test_pii_settings_refuse_ambiguous_or_malformed_keys():
    key, other, index = new_key(), new_key(), new_key()
    base = {"PII_KEY": key, "PII_INDEX_KEY": index}
    for bad in ({"PII_OLD_KEYS": f"2:{other},2:{new_key()}"},  # one version, two keys
                {"PII_OLD_KEYS": f"1:{other}"},  # the current version with another key
                {"PII_OLD_KEYS": other},  # no version
                {"PII_KEY_VERSION": "0"}, {"PII_KEY_VERSION": "two"}):
        with pytest.raises(pii.PiiError):
            pii.cipher_from_settings({**base, **bad})
    cipher = pii.cipher_from_settings({**base, "PII_KEY_VERSION": 3,
                                       "PII_OLD_KEYS": f" 1:{other} ,3:{key}"})
    assert (cipher.key_version, cipher.key_versions) == (3, frozenset({1, 3}))
