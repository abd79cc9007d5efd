"""Half-year assessment reports (P5.4.6): run (a new draft version), publish (frozen; the
flags go out), read with each role's view, and typed inputs. The documents people read
(HTML, CSV, XLSX) are built in ``appraisal_doc``.

A report's content holds the scheme it used and every raw value, so nothing typed or
recorded later changes it; the table's trigger refuses DELETE and every UPDATE except
draft → published (docs/ASSESSMENT.md).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from gridgov_common.kernel import scoping
from gridgov_common.kernel.area import Level, parent_or_none
from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from gridgov_common.kernel.roles import Role
from gridgov_common.platform.outbox import add_event
from services.assessment import appraisal, appraisal_scheme
from services.assessment.domain import subjects
from services.assessment.models import appraisal_inputs, appraisal_reports, field_staff

PRODUCER = "assessment"
FLAG_TYPE = "assessment.staff.flagged"
DISTRICT_READERS = frozenset({Role.DISTRICT_ADMIN, Role.OPS_VIEWER})
WORKERS = frozenset({Role.GRID_INSTRUCTOR, Role.COMMUNITY_GRID_CHIEF,
                     Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER})


def run_scope(principal, asked: str | None) -> str:
    """A town grid chief runs their town; a district admin any town or the district."""
    scope = asked or principal.scope
    level, _, code = scope.partition(":")
    if level not in ("town", "district"):
        raise Unprocessable("an assessment runs over a town or the district",
                            fields={"scope": ["town:<9 digits> or district:<6 digits>"]})
    principal.require_covers(code, f"scope {scope}")
    return scope


def run(db, kpis_client, principal, half_year: str, scope: str, scheme_version: int | None,
        today: date, workday, names_client=None) -> dict[str, Any]:
    """A new draft version of (half-year, scope). ``names_client`` (appraisal_names) gives
    the registry's names of the places and people, stored with the figures: a filed report
    names them as they were (issue 11)."""
    first, last = subjects.half_year_bounds(half_year)
    until = subjects.as_of(first, last, today)
    version, scheme = (appraisal_scheme.get(db, scheme_version) if scheme_version
                       else appraisal_scheme.current(db))
    workdays = [first + timedelta(days=n) for n in range((until - first).days + 1)
                if workday(first + timedelta(days=n))]
    db.commit()  # no transaction held open while dispatch counts
    inputs = appraisal.gather(db, kpis_client, scope, first, until, workdays, half_year)
    code = scope.partition(":")[2]
    rows = subjects.evaluate(scheme, inputs, code)
    content = {"half_year": half_year, "scope": scope, "as_of": until.isoformat(),
               "working_days": len(workdays), "scheme_version": version, "scheme": scheme,
               "rows": rows, "flagged": [r["code"] for r in rows if r["flagged"]]}
    if names_client is not None:
        db.commit()  # no transaction held open while the registry answers
        content["names"] = names_client.for_report(
            scope, [r["code"] for r in rows if r["subject_kind"] == "grid_worker"],
            until.isoformat())
    db.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
               {"k": f"appraisal:{half_year}:{scope}"})  # one version number per run
    number = db.execute(sa.select(sa.func.coalesce(sa.func.max(appraisal_reports.c.version), 0))
                        .where(appraisal_reports.c.half_year == half_year,
                               appraisal_reports.c.scope == scope)).scalar() + 1
    row = db.execute(appraisal_reports.insert().values(
        report_id=str(uuid.uuid4()), half_year=half_year, scope=scope, version=number,
        scheme_version=version, state="draft", period_start=first, period_end=last,
        created_by=principal.sub, content=content).returning(*appraisal_reports.c)).mappings()
    return dict(row.one())


def _load(db, report_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(report_id)
    except ValueError:
        raise NotFound(f"no assessment report {report_id}") from None
    row = db.execute(sa.select(appraisal_reports).where(
        appraisal_reports.c.report_id == report_id)).mappings().first()
    if row is None:
        raise NotFound(f"no assessment report {report_id}")
    return dict(row)


def publish(db, principal, report_id: str, now: datetime) -> dict[str, Any]:
    """Freeze the report and send one ``assessment.staff.flagged`` per flagged person."""
    report = _load(db, report_id)
    principal.require_covers(report["scope"].partition(":")[2], f"report {report_id}")
    if report["state"] != "draft":
        raise Conflict(f"report {report_id} is already published", code="published")
    row = db.execute(appraisal_reports.update().where(
        appraisal_reports.c.report_id == report_id, appraisal_reports.c.state == "draft")
        .values(state="published", published_by=principal.sub, published_at=now)
        .returning(*appraisal_reports.c)).mappings().first()
    if row is None:
        raise Conflict(f"report {report_id} was published meanwhile", code="published")
    for subject in (r for r in report["content"]["rows"] if r["flagged"]):
        add_event(db, FLAG_TYPE, flag_payload(dict(row), subject), PRODUCER)
    return dict(row)


def flag_payload(report: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Ids, codes and figures only (P5.4.4); the registry resolves the person."""
    scope_code = row["scope_code"]
    level = subjects.LEVELS.get(len(scope_code), "town")
    return {"report_id": report["report_id"], "half_year": report["half_year"],
            "report_version": report["version"], "staff_sub": row["code"],
            "role": row["role"], "scope": f"{level}:{scope_code}",
            "town_code": row["town_code"], "score": row["score"], "grade": row["grade"],
            "flag_grades": report["content"]["scheme"]["flag_grades"],
            "clause": "P5.4.1", "proposer": "community", "approver": "town"}


# -- reading --------------------------------------------------------------------------------

def view(principal, report: dict[str, Any]) -> dict[str, Any] | None:
    """The report as ``principal`` may see it, or None: district roles everything; a town
    grid chief the rows of their town (and the departments of their town's own runs); other
    grid staff only their own row of a published report."""
    scope_code = report["scope"].partition(":")[2]
    rows = report["content"]["rows"]
    if principal.role in DISTRICT_READERS:
        # issue 10: the district in the token, never another district's report
        return report if scoping.covers(principal, scope_code) else None
    if principal.role == Role.TOWN_GRID_CHIEF:
        town = principal.scope_code
        if not (scope_code.startswith(town) or town.startswith(scope_code)):
            return None
        own_run = scope_code == town
        keep = [r for r in rows if r["town_code"] == town
                or (own_run and r["subject_kind"] == "department")]
    elif principal.role in WORKERS and report["state"] == "published":
        keep = [r for r in rows if r["subject_kind"] == "grid_worker"
                and r["code"] == principal.sub]
        if not keep:
            return None
    else:
        return None
    content = {**report["content"], "rows": keep,
               "flagged": [r["code"] for r in keep if r["flagged"]]}
    if isinstance(content.get("names"), dict):  # the names of the rows shown, no others
        people = {r["code"] for r in keep if r["subject_kind"] == "grid_worker"}
        content["names"] = {**content["names"], "staff": {
            sub: name for sub, name in (content["names"].get("staff") or {}).items()
            if sub in people}}
    return {**report, "content": content}


def read(db, principal, report_id: str) -> dict[str, Any]:
    shown = view(principal, _load(db, report_id))
    if shown is None:
        raise NotFound(f"no assessment report {report_id}")
    return shown


def listing(db, principal, half_year: str | None, limit: int) -> list[dict[str, Any]]:
    query = sa.select(appraisal_reports).order_by(appraisal_reports.c.created_at.desc())
    if half_year:
        query = query.where(appraisal_reports.c.half_year == half_year)
    out = []
    for row in db.execute(query.limit(1000)).mappings():
        shown = view(principal, dict(row))
        if shown is not None:
            out.append({k: v for k, v in shown.items() if k != "content"}
                       | {"subjects": len(shown["content"]["rows"])})
        if len(out) == limit:
            break
    return out


# -- typed inputs (democratic appraisal, quantified points) ---------------------------------

def _input_town(db, principal, kind: str, code: str) -> str | None:
    """The town a subject belongs to, checked against the caller's scope."""
    if kind == "department":
        if principal.role != Role.DISTRICT_ADMIN:
            raise Forbidden("departments' inputs are entered by the district")
        return None
    if kind == "staff":
        scope_code = db.execute(sa.select(field_staff.c.scope_code).where(
            field_staff.c.staff_sub == code)).scalar()
        if scope_code is None:
            raise Unprocessable(f"unknown staff {code}", fields={"subject_code": ["unknown"]})
        code = scope_code
    elif len(code) != {"town": 9, "community": 12}[kind] or not code.isdigit():
        raise Unprocessable(f"{code} is not a {kind} code", fields={"subject_code": ["code"]})
    principal.require_covers(code, f"{kind} {code}")
    return parent_or_none(code, Level.TOWN)


def put_inputs(db, principal, half_year: str, items: list[dict[str, Any]]) -> int:
    subjects.half_year_bounds(half_year)
    for item in items:
        town = _input_town(db, principal, item["subject_kind"], item["subject_code"])
        values = {"democratic_appraisal": item["democratic_appraisal"],
                  "quantified_points": item["quantified_points"],
                  "entered_by": principal.sub, "entered_at": sa.func.now()}
        db.execute(insert(appraisal_inputs).values(
            half_year=half_year, subject_kind=item["subject_kind"],
            subject_code=item["subject_code"], town_code=town, **values)
            .on_conflict_do_update(index_elements=["half_year", "subject_kind",
                                                   "subject_code"], set_=values))
    return len(items)


def get_inputs(db, principal, half_year: str) -> list[dict[str, Any]]:
    subjects.half_year_bounds(half_year)  # 422 for anything else (a path value)
    query = sa.select(appraisal_inputs).where(appraisal_inputs.c.half_year == half_year)
    if principal.role in DISTRICT_READERS:  # issue 10: its own district's towns only
        # (departments' inputs have no town: a department names no district)
        query = query.where(sa.or_(scoping.where_scope(principal, appraisal_inputs.c.town_code),
                                   appraisal_inputs.c.town_code.is_(None)))
    else:
        query = query.where(appraisal_inputs.c.town_code == principal.scope_code)
    rows = db.execute(query.order_by(appraisal_inputs.c.subject_kind,
                                     appraisal_inputs.c.subject_code)).mappings()
    return [{**dict(r), "democratic_appraisal": _num(r["democratic_appraisal"]),
             "quantified_points": _num(r["quantified_points"])} for r in rows]


def _num(value) -> float | None:
    return None if value is None else float(value)
