"""The residents' report page and its public API (issue 12; docs/RESIDENT-REPORTS.md).

A resident without an account reports a problem of a public subcategory with a map pin,
a photo and, if they wish, a phone for a call-back; they get the case number as a receipt
and follow the case by it. What is new here is only the door: the report goes through
Open311's intake path (``georeport.public_report`` and ``georeport.file_public``), so the
catalogue's checks, the grid from the point, duplicate linking and the bus events are the
same as for every public request.

Abuse protection needs no third party (an offline network has none, and a CAPTCHA service
would learn who reported what): a proof-of-work challenge per report (domain/challenge.py),
spent once (``spent_challenges``), and the per-address rate limit of the ``public`` group.

P5.4.4: events keeps no phone. The call-back phone goes to the registry at once
(``keep_callback_phone``), which encrypts it; the receipt shows it masked. The status page
shows what Open311 shows the public, less: the category, the stage in words, the
department by name, dates. No description, no place, no person.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from nameko.exceptions import RemoteError
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.contract.cases import CASE_NUMBER_RE
from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from gridgov_common.kernel.languages import DEFAULT
from gridgov_common.platform.outbox import add_event
from services.events import catalogue_store, department_names, georeport
from services.events.dependencies import RegistryClient, Settings
from services.events.domain import catalogue, status_notes
from services.events.domain import challenge as pow_
from services.events.domain import open311 as doc
from services.events.models import cases as cases_table
from services.events.models import spent_challenges
from services.events.visibility import public_conditions

SOURCE_SYSTEM = "resident_page"  # source open311: the same public intake
REPORTER = "resident"  # no account: the reporter is "a resident"
PHOTO_UPLOADER = "resident"
PRODUCER = "events"
CALLBACK_PHONE_KEPT = "events.callback_phone.kept"  # the registry keeps the phone (P5.4.4)
STATUS_PATH = "/report/status?case="
NOTICE = {"zh-CN": "已受理。请记下案件编号，凭编号查询办理进度。",
          "en": "Received. Keep the case number: it is how you follow the case."}


def categories(session: Session, lang: str = DEFAULT) -> list[dict[str, Any]]:
    """The public subcategories, in words (the catalogue's names and descriptions)."""
    return [{"code": sub.code, "name": sub.name_en if lang == "en" else sub.name_zh,
             "work_category": sub.work_category.value, "description": sub.description,
             "attributes": [attr.as_open311() for attr in sub.attributes]}
            for sub in catalogue_store.current(session).public]


def grids(registry: RegistryClient) -> list[dict[str, Any]]:
    """The outlines of the grids valid today, as the registry simplified them."""
    return registry.grid_outlines()


def new_challenge(settings: Settings, now: float | None = None) -> dict[str, Any]:
    found = pow_.issue(settings.challenge_secret, secrets.token_hex(16),
                       time.time() if now is None else now, settings.challenge_ttl_seconds,
                       settings.challenge_bits)
    return found.as_json()


def spend(session: Session, settings: Settings, solution: dict[str, Any],
          now: float | None = None) -> None:
    """Check the solution and spend its challenge in this transaction (a report that fails
    later rolls the spending back with it). 422 for a wrong or expired solution, 409
    ``challenge_spent`` for one already used."""
    now = time.time() if now is None else now
    try:
        found = pow_.verify(settings.challenge_secret, solution["challenge"],
                            solution["signature"], solution["counter"], now,
                            settings.challenge_bits)
    except pow_.ChallengeError as exc:
        raise Unprocessable(str(exc), code=exc.code,
                            fields={"solution": [str(exc)]}) from None
    kept = session.execute(pg.insert(spent_challenges).values(
        nonce=found.nonce, expires_at=datetime.fromtimestamp(found.expires, UTC))
        .on_conflict_do_nothing(index_elements=[spent_challenges.c.nonce])
        .returning(spent_challenges.c.nonce)).first()
    if kept is None:
        raise Conflict("this challenge was used already: ask for a new one",
                       code="challenge_spent", fields={"solution": ["already used"]})


def purge_spent(session: Session, now: datetime, limit: int = 5000) -> int:
    """Forget spent challenges that have expired (their signature refuses them anyway)."""
    doomed = (sa.select(spent_challenges.c.nonce)
              .where(spent_challenges.c.expires_at < now).limit(limit)
              .with_for_update(skip_locked=True))
    return session.execute(sa.delete(spent_challenges).where(
        spent_challenges.c.nonce.in_(doomed.scalar_subquery()))).rowcount


def file_report(session: Session, settings: Settings, registry: RegistryClient,
                data: dict[str, Any], lang: str = DEFAULT) -> tuple[dict[str, Any], dict]:
    """Spend the challenge and file the report through the public intake path; hand the
    phone to the registry before the case is committed (a phone it refuses refuses the
    report: 422 ``phone``). The case (uncommitted) and the receipt."""
    spend(session, settings, data["solution"])
    current = catalogue_store.current(session)
    try:
        sub = current.public_subcategory(data["category"])
    except catalogue.CatalogueError as exc:
        raise Unprocessable(str(exc), fields={"category": [data["category"]]}) from None
    location = data["location"]
    report = georeport.public_report(
        sub, data["description"].strip() or data["description"], location["lon"],
        location["lat"], reporter_sub=REPORTER, reporter_role=REPORTER,
        source_system=SOURCE_SYSTEM, photos=data["photos"], attributes=data["attributes"])
    case, _created = georeport.file_public(session, settings, registry, report, current, sub)
    masked = None
    if data.get("phone"):
        masked = _keep_phone(registry, case, data["phone"])
        # in the case's transaction: the registry keeps the phone only once this is sent
        add_event(session, CALLBACK_PHONE_KEPT, {
            "case_number": case["case_number"], "grid_code": case["grid_code"],
            "at": case["reported_at"]}, PRODUCER)
    receipt = {"case_number": case["case_number"],
               "received_at": doc.w3c_time(case["reported_at"]),
               "status_url": STATUS_PATH + case["case_number"],
               "callback_phone": masked, "notice": NOTICE.get(lang, NOTICE[DEFAULT])}
    return case, receipt


def _keep_phone(registry: RegistryClient, case: dict[str, Any], phone: str) -> str:
    try:
        kept = registry.keep_callback_phone(case["case_number"], phone, case["grid_code"])
    except RemoteError as exc:
        if exc.exc_type in ("Unprocessable", "ValidationError"):
            raise Unprocessable("not a phone number we can call back", code="invalid_phone",
                                fields={"phone": ["an 11-digit mobile or a landline with "
                                                  "its area code"]}) from None
        raise
    return kept["phone_masked"]


def status(session: Session, case_number: str, lang: str = DEFAULT) -> dict[str, Any]:
    """The public status of a public case: stage in words, department by name, dates.
    No description, place, photo or person (P5.4.4); 404 for anything else."""
    if not CASE_NUMBER_RE.match(case_number or ""):
        raise NotFound("no such case")
    current = catalogue_store.current(session)
    row = session.execute(georeport.with_original().where(
        cases_table.c.case_number == case_number, *public_conditions(current))).first()
    if row is None:
        raise NotFound(f"no public case {case_number}")
    case = dict(row._mapping)
    sub = current.by_code[case["subcategory"]]
    agencies = department_names.name_map(session, lang)
    named = [agencies.get(code, code) for code in dict.fromkeys(case.get("departments") or [])]
    expected = case.get("expected_at") if case["status"] == "open" else None
    return {
        "case_number": case["case_number"],
        "category": sub.name_en if lang == "en" else sub.name_zh,
        "status": case["status"],
        "status_note": status_notes.note(case.get("dispatch_state"),
                                         bool(case.get("handled_on_spot")), lang,
                                         merged_into=doc.merged_into(case))
        or status_notes.NOTES["filed"][1 if lang == "en" else 0],
        "agency": (", " if lang == "en" else "、").join(named) or None,
        "received_at": doc.w3c_time(case["reported_at"]),
        "updated_at": doc.w3c_time(case.get("updated_at") or case["reported_at"]),
        "expected_at": doc.w3c_time(expected) if expected else None,
    }
