"""The operators' password commands (issue 12): set-password from the environment or
generated, and demo-passwords for make up's demo district, printed once, never stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridgov_common.platform.db import transaction
from services.registry import accounts
from services.registry import cli as registry_cli


@pytest.fixture
def staff_rows(clean_registry, db_engine):
    rows = [("张三", "community_grid_worker", "320505001001", "cgw-cli"),
            ("示例一", "town_grid_chief", "320505001", "demo-town_grid_chief-320505001"),
            ("示例二", "community_grid_chief", "320505001001",
             "demo-community_grid_chief-320505001001")]
    with db_engine.begin() as conn:
        for name, role, scope, subject in rows:
            conn.execute(sa.text(
                "INSERT INTO registry.staff (name, role, scope_code, lifecycle_state, "
                "subject) VALUES (:n, :r, :s, 'active', :sub)"),
                {"n": name, "r": role, "s": scope, "sub": subject})
    return rows


@pytest.fixture
def cli_env(monkeypatch, db_url):
    monkeypatch.setenv("GRIDGOV_REGISTRY_DB_URL", db_url)
    monkeypatch.delenv(registry_cli.PASSWORD_ENV, raising=False)


def signs_in(db_engine, login: str, password: str) -> bool:
    try:
        with transaction(db_engine) as session:
            accounts.authenticate(session, login, password, "cli-test", accounts.Settings())
    except accounts.Unauthorized:
        return False
    return True


def test_set_password_from_the_environment_or_generated(staff_rows, cli_env, monkeypatch,
                                                         capsys, db_engine):
    monkeypatch.setenv(registry_cli.PASSWORD_ENV, "Operator-set-1")
    assert registry_cli.main(["set-password", "cgw-cli"]) == 0
    out = capsys.readouterr().out
    assert "Operator-set-1" not in out  # the operator chose it: never echoed
    assert signs_in(db_engine, "cgw-cli", "Operator-set-1")
    monkeypatch.delenv(registry_cli.PASSWORD_ENV)
    assert registry_cli.main(["set-password", "cgw-cli"]) == 0
    subject, generated = capsys.readouterr().out.strip().split("\t")
    assert subject == "cgw-cli" and accounts.policy_problems(generated, subject) == []
    assert signs_in(db_engine, "cgw-cli", generated)
    assert not signs_in(db_engine, "cgw-cli", "Operator-set-1")
    monkeypatch.setenv(registry_cli.PASSWORD_ENV, "weak")
    assert registry_cli.main(["set-password", "cgw-cli"]) == 2
    assert "password policy" in capsys.readouterr().err
    assert registry_cli.main(["set-password", "nobody"]) == 2


def test_demo_passwords_are_generated_and_printed_once(staff_rows, cli_env, capsys, db_engine):
    assert registry_cli.main(["demo-passwords"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert sorted(s for s, _r, _p in lines) == sorted(r[3] for r in staff_rows[1:])
    passwords = {p for _s, _r, p in lines}
    assert len(passwords) == 2  # one each, generated
    for subject, _role, password in lines:
        assert signs_in(db_engine, subject, password)
    assert not signs_in(db_engine, "cgw-cli", "")  # not a demo subject: no account
    with db_engine.connect() as conn:
        stored = " ".join(conn.execute(sa.text(
            "SELECT password_hash FROM registry.accounts")).scalars())
    assert not any(p in stored for p in passwords)


def test_demo_passwords_refuses_a_registry_without_the_demo(clean_registry, cli_env, capsys):
    assert registry_cli.main(["demo-passwords"]) == 1
    assert "no demo district" in capsys.readouterr().err


def test_make_up_issues_demo_passwords_at_the_first_start_only(staff_rows, cli_env, capsys,
                                                                 db_engine, tmp_path):
    """``make up`` runs ``demo-passwords --if-none --output var/demo-passwords.tsv`` on every
    start: the first issues and keeps the list (0600), later ones change nothing."""
    kept = tmp_path / "demo-passwords.tsv"
    assert registry_cli.main(["demo-passwords", "--if-none", "--output", str(kept)]) == 0
    printed = capsys.readouterr().out
    assert kept.read_text() == printed and (kept.stat().st_mode & 0o777) == 0o600
    subject, _role, password = printed.splitlines()[0].split("\t")
    assert registry_cli.main(["demo-passwords", "--if-none", "--output", str(kept)]) == 0
    assert "demo accounts exist" in capsys.readouterr().out
    assert kept.read_text() == printed  # the list people were given still holds
    assert signs_in(db_engine, subject, password)


def test_set_sign_in_phone_encrypts_it_and_audits(staff_rows, cli_env, monkeypatch, capsys,
                                                  db_engine, service_config):
    from gridgov_common.kernel import pii

    settings = service_config("registry")
    for key in ("PII_KEY", "PII_INDEX_KEY"):  # the CLI reads GRIDGOV_PII_*
        monkeypatch.setenv(f"GRIDGOV_{key}", settings[key])
    assert registry_cli.main(["set-sign-in-phone", "cgw-cli", "13800138000"]) == 2
    assert "set a password first" in capsys.readouterr().err
    monkeypatch.setenv(registry_cli.PASSWORD_ENV, "Operator-set-1")
    assert registry_cli.main(["set-password", "cgw-cli"]) == 0
    monkeypatch.setenv(registry_cli.PHONE_ENV, "+86 138-0013-8000")
    assert registry_cli.main(["set-sign-in-phone", "cgw-cli"]) == 0
    assert "13800138000" not in capsys.readouterr().out
    with db_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT sign_in_phone_enc, sign_in_phone_masked FROM "
                                   "registry.accounts")).one()
    assert row.sign_in_phone_masked == "138****8000"
    cipher = pii.cipher_from_settings(settings)
    assert cipher.decrypt(row.sign_in_phone_enc, accounts.PHONE_FIELD) == "13800138000"
    assert registry_cli.main(["set-sign-in-phone", "cgw-cli", "010-12345678"]) == 2
    assert "mobile" in capsys.readouterr().err  # a landline gets no SMS
    assert registry_cli.main(["set-sign-in-phone", "cgw-cli", "--remove"]) == 0
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sign_in_phone_enc FROM registry.accounts")
                            ).scalar() is None
        trail = conn.execute(sa.text(
            "SELECT action, reason FROM registry.audit_log WHERE action LIKE 'sign_in_phone%' "
            "ORDER BY id")).all()
    assert [a for a, _ in trail] == ["sign_in_phone_set", "sign_in_phone_removed"]
    assert "138****8000" in trail[0][1] and "13800138000" not in str(trail)


def test_the_demo_register_holds_the_offices_and_they_sign_in(clean_registry, cli_env, capsys,
                                                              db_engine, service_config):
    """Every workbench has someone to sign in after make up (issue 14): the demo loader adds
    the district admin, the operations viewer and one officer per active department; the
    demo passwords reach them as they reach the grid staff."""
    from gridgov_common.kernel import pii
    from services.registry import demo

    cipher = pii.cipher_from_settings(service_config("registry"))
    with transaction(db_engine) as session:
        summary = demo.load(session, cipher, towns=1, communities_per_town=1,
                            grids_per_community=1, households_per_grid=3)
    with db_engine.connect() as conn:
        offices = conn.execute(sa.text(
            "SELECT role, scope_code, subject, name FROM registry.staff WHERE role IN "
            "('district_admin', 'ops_viewer', 'department_officer') ORDER BY id")).all()
        active = conn.execute(sa.text("SELECT code FROM registry.departments WHERE active "
                                      "ORDER BY code")).scalars().all()
        total = conn.execute(sa.text("SELECT count(*) FROM registry.staff")).scalar()
    assert summary["staff"] == total and len(active) >= 10  # the P4.2 units
    assert [(r.role, r.scope_code, r.subject) for r in offices] == [
        ("district_admin", "320505", "demo-district_admin-320505"),
        ("ops_viewer", "320505", "demo-ops_viewer-320505"),
        *(("department_officer", code, f"demo-department_officer-{code}") for code in active)]
    assert all(r.name and not r.name.startswith("demo") for r in offices)  # people's names

    assert registry_cli.main(["demo-passwords"]) == 0
    issued = {s: p for s, _r, p in (line.split("\t") for line in
                                    capsys.readouterr().out.strip().splitlines())}
    for subject in ("demo-district_admin-320505", "demo-department_officer-fire"):
        assert signs_in(db_engine, subject, issued[subject])
