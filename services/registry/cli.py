"""Registry command line: load the demo district, import a real one.

``python -m services.registry.cli load-demo [--if-empty] [--towns N …]``
``python -m services.registry.cli has-demo`` (exit 0 when the registry holds the demo
district: scripts/up.sh loads the demo history only then, docs/DEMO.md)
``python -m services.registry.cli import-grids grids.geojson``
``python -m services.registry.cli import-residents residents.csv``
``python -m services.registry.cli rekey-pii [--batch N] [--status]`` (after a PII key
rotation: re-encrypt every blob under the current key; deploy/README.md "Rotating keys")
``python -m services.registry.cli set-password <subject>`` (the password from
``GRIDGOV_NEW_PASSWORD``, else a generated one printed once; ends the person's sessions)
``python -m services.registry.cli demo-passwords`` (every demo staff member with a subject
gets a generated password; the list is printed once, never stored; docs/DEMO.md)

Keys and the database come from the environment (``GRIDGOV_REGISTRY_DB_URL``, the registry's
own role, else ``GRIDGOV_DB_URL``; ``GRIDGOV_PII_KEY``,
``GRIDGOV_PII_INDEX_KEY``, ``GRIDGOV_PII_KEY_VERSION``, ``GRIDGOV_PII_OLD_KEYS``), as for
the services.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import sqlalchemy as sa

from gridgov_common.kernel import pii
from gridgov_common.platform import rekey
from gridgov_common.platform.db import make_engine, transaction
from gridgov_common.platform.migrate import DEFAULT_URL
from services.registry import accounts, demo, importer, people
from services.registry import callback_phones as callback_phone_store
from services.registry.models import accounts as reg_accounts
from services.registry.models import callback_phones, grids, residents, staff

# P5.4.4: every encrypted column of the registry (the blind indexes are not: see
# deploy/README.md "Rotating keys" on PII_INDEX_KEY)
PASSWORD_ENV = "GRIDGOV_NEW_PASSWORD"
PII_TARGETS = [rekey.Target(residents, "id", (
    rekey.Encrypted("id_number_enc", people.ID_FIELD),
    rekey.Encrypted("phone_enc", people.PHONE_FIELD),
    rekey.Encrypted("special_groups_enc", people.GROUPS_FIELD))),
    rekey.Target(callback_phones, "case_number", (
        rekey.Encrypted("phone_enc", callback_phone_store.FIELD),)),
    rekey.Target(reg_accounts, "staff_id", (
        rekey.Encrypted("sign_in_phone_enc", accounts.PHONE_FIELD),))]
PHONE_ENV = "GRIDGOV_SIGN_IN_PHONE"


def progress_bar(label: str):
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        rate = done / max(time.monotonic() - started, 1e-6)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done}/{total} ({rate:,.0f}/s)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def cipher_from_env() -> pii.PiiCipher:
    return pii.cipher_from_settings(os.environ, prefix="GRIDGOV_")



def print_report(report: importer.ImportReport) -> None:
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))


def has_demo(session) -> bool:
    """The demo district is loaded: its staff carry the demo subjects (demo.demo_subject).
    A real district never gets the demo's history (docs/DEMO.md)."""
    return session.execute(sa.select(staff.c.id).where(
        staff.c.subject.startswith("demo-")).limit(1)).first() is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.registry.cli")
    sub = parser.add_subparsers(dest="cmd", required=True)
    demo_cmd = sub.add_parser("load-demo", help="generate and load a synthetic district")
    demo_cmd.add_argument("--if-empty", action="store_true", help="skip if grids exist")
    demo_cmd.add_argument("--seed", type=int, default=2026)
    demo_cmd.add_argument("--towns", type=int, default=2)
    demo_cmd.add_argument("--communities-per-town", type=int, default=3)
    demo_cmd.add_argument("--grids-per-community", type=int, default=4)
    demo_cmd.add_argument("--households-per-grid", type=int, default=40)
    sub.add_parser("has-demo", help="exit 0 if the registry holds the demo district")
    grids_cmd = sub.add_parser("import-grids", help="import grids from a GeoJSON file")
    grids_cmd.add_argument("path")
    res_cmd = sub.add_parser("import-residents", help="import residents from a UTF-8 CSV")
    res_cmd.add_argument("path")
    rekey.add_parser(sub)
    pw_cmd = sub.add_parser("set-password", help="set a staff member's password (sign-in)")
    pw_cmd.add_argument("subject", help="the staff member's login (staff.subject)")
    phone_cmd = sub.add_parser("set-sign-in-phone", help="the mobile number a staff "
                               "manager's sign-in codes are sent to (SMS second factor)")
    phone_cmd.add_argument("subject", help="the staff member's login (staff.subject)")
    phone_cmd.add_argument("phone", nargs="?", help=f"the mobile number (else from "
                           f"{PHONE_ENV}, kept out of the process list)")
    phone_cmd.add_argument("--remove", action="store_true", help="remove the sign-in phone")
    demo_pw = sub.add_parser("demo-passwords", help="give every demo staff member a "
                             "generated password; print them once")
    demo_pw.add_argument("--if-none", action="store_true",
                         help="do nothing when a demo staff member already has an account "
                              "(make up: passwords are issued at the first start only)")
    demo_pw.add_argument("--output", help="also write the list to this file (mode 0600)")
    args = parser.parse_args(argv)

    engine = make_engine(  # its own role where make up / compose give it
        os.environ.get("GRIDGOV_REGISTRY_DB_URL") or os.environ.get("GRIDGOV_DB_URL", DEFAULT_URL))
    try:
        return _run(args, engine)
    except importer.ImportRejected as rejected:
        print_report(rejected.report)
        print(f"error: {rejected.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _operator() -> str:
    return f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'operator'}"


def set_password(engine, subject: str) -> int:
    """The password from GRIDGOV_NEW_PASSWORD (kept out of the shell history and the
    process list), or a generated one, printed once."""
    given = os.environ.get(PASSWORD_ENV)
    password = given or accounts.generate_password()
    with transaction(engine) as session:
        accounts.set_password(session, subject, password, _operator())
    if given:
        print(f"password of {subject} set")
    else:
        print(f"{subject}\t{password}")
    return 0


def set_sign_in_phone(engine, subject: str, phone: str | None, remove: bool) -> int:
    """Encrypted with the registry's PII keys (GRIDGOV_PII_KEY…), like every phone."""
    phone = None if remove else (phone or os.environ.get(PHONE_ENV) or "").strip()
    if phone == "":
        raise ValueError(f"give the phone number (argument or {PHONE_ENV}) or --remove")
    with transaction(engine) as session:
        accounts.set_sign_in_phone(session, cipher_from_env(), subject, phone, _operator())
    print(f"sign-in phone of {subject} " + ("removed" if remove else "set"))
    return 0


def demo_passwords(engine, if_none: bool = False, output: str | None = None) -> int:
    """``make up``'s demo district: a generated password for every active demo staff
    member with a subject, printed once as ``subject<TAB>role<TAB>password`` (and written
    to ``output``, readable by its owner only). ``if_none``: leave existing demo accounts
    alone (a second ``make up`` does not change the passwords people were given)."""
    with transaction(engine) as session:
        if not has_demo(session):
            print("error: the registry holds no demo district", file=sys.stderr)
            return 1
        if if_none and session.execute(sa.select(sa.func.count()).select_from(
                reg_accounts.join(staff, staff.c.id == reg_accounts.c.staff_id))
                .where(staff.c.subject.startswith("demo-"))).scalar():
            print("demo accounts exist; their passwords were issued at the first start"
                  + (f" ({output})" if output else ""))
            return 0
        rows = session.execute(sa.select(staff.c.subject, staff.c.role).where(
            staff.c.subject.startswith("demo-"), staff.c.active.is_(True))
            .order_by(staff.c.subject)).all()
        issued = [(row.subject, row.role, accounts.generate_password()) for row in rows]
        for subject, _role, password in issued:
            accounts.set_password(session, subject, password, _operator())
    lines = [f"{subject}\t{role}\t{password}" for subject, role, password in issued]
    if output:
        _write_private(output, "".join(line + "\n" for line in lines))
    print("\n".join(lines))
    return 0


def _write_private(path: str, text: str) -> None:
    """Written whole and readable by its owner only (it holds passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode on open: set it


def _run(args, engine) -> int:
    if args.cmd == "set-password":
        return set_password(engine, args.subject)
    if args.cmd == "set-sign-in-phone":
        return set_sign_in_phone(engine, args.subject, args.phone, args.remove)
    if args.cmd == "demo-passwords":
        return demo_passwords(engine, args.if_none, args.output)
    if args.cmd == "rekey-pii":
        return rekey.run(engine, cipher_from_env(), PII_TARGETS, args.batch, args.status)
    if args.cmd == "has-demo":
        with transaction(engine) as session:
            return 0 if has_demo(session) else 1
    if args.cmd == "load-demo":
        with transaction(engine) as session:
            if args.if_empty and session.execute(sa.select(sa.func.count()).select_from(
                    grids)).scalar():
                print("registry already has grids; demo not loaded")
                return 0
            summary = demo.load(session, cipher_from_env(), seed=args.seed, towns=args.towns,
                                communities_per_town=args.communities_per_town,
                                grids_per_community=args.grids_per_community,
                                households_per_grid=args.households_per_grid,
                                progress=progress_bar("residents"))
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    with open(args.path, encoding="utf-8") as handle:
        text = handle.read()
    with transaction(engine) as session:
        if args.cmd == "import-grids":
            report = importer.import_grids(session, json.loads(text), progress_bar("grids"))
        else:
            report = importer.import_residents(session, cipher_from_env(),
                                               importer.read_csv(text),
                                               progress_bar("residents"))
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
