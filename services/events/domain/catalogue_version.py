"""One version of the subcategory catalogue, as data a district admin changes without a
release (issue: master data as data).

The packaged catalogue (``catalogue.CATALOGUE``) is stored as version 1; every change an
admin makes (a new subcategory, a renamed one, one retired) is stored as the next whole
version, like dispatch's triage rule sets, and announced on the bus
(``events.catalogue.published``) so that dispatch can check rule sets against it.

Rules a successor version must keep, because codes travel on the bus and are archived with
every case (P5.3.1 "archived by class"):

- a code is never removed nor reused: a subcategory is *retired* (no new reports), never
  deleted, and keeps its work category;
- a subcategory that reveals special-group membership stays sensitive (P5.2.5): switching
  the flag off would expose every case already filed under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gridgov_common.contract import InfoClass, Severity, WorkCategory
from gridgov_common.contract.cases import CLOSING_CONDITION_MAX, HANDLING_LEVELS, LIMIT_UNITS
from gridgov_common.contract.routing import CODE_MAX_LENGTH, CODE_RE
from services.events.domain.catalogue import (
    CAP_CATEGORIES,
    CATALOGUE,
    NEVER_PUBLIC,
    Attribute,
    CatalogueError,
    Datatype,
    Subcategory,
)

NAME_MAX = 60
DESCRIPTION_MAX = 500


@dataclass(frozen=True)
class CatalogueProblem:
    """One rule a catalogue version breaks; ``field`` names the input (for a 422)."""

    field: str
    message: str


def subcategory_to_dict(sub: Subcategory) -> dict[str, Any]:
    """The stored (and published) form of a subcategory: plain JSON types."""
    data = asdict(sub)
    data["attributes"] = [
        {**asdict(attr), "datatype": attr.datatype.value,
         "values": [{"key": key, "name": name} for key, name in attr.values]}
        for attr in sub.attributes]
    for name in ("work_category", "info_class", "severity"):
        data[name] = str(data[name])
    for name in ("ack_limit", "handle_limit"):
        limit = getattr(sub, name)
        data[name] = None if limit is None else {"amount": limit[0], "unit": limit[1]}
    return data


def subcategory_from_dict(data: Mapping[str, Any]) -> Subcategory:
    """A subcategory from its stored form (already validated by the schema or the store)."""
    attributes = tuple(
        Attribute(code=a["code"], datatype=Datatype(a["datatype"]),
                  description=a["description"], required=a.get("required", False),
                  values=tuple((v["key"], v["name"]) for v in a.get("values", ())),
                  order=a.get("order", 1))
        for a in data.get("attributes", ()))
    return Subcategory(
        code=data["code"], work_category=WorkCategory(data["work_category"]),
        info_class=InfoClass(data["info_class"]), name_zh=data["name_zh"],
        name_en=data["name_en"], alert_category=data["alert_category"],
        cap_category=data["cap_category"], public=data.get("public", False),
        severity=Severity(data.get("severity", Severity.MINOR)),
        sensitive=data.get("sensitive", False), description=data.get("description", ""),
        attributes=attributes, retired=data.get("retired", False),
        handling_level=data.get("handling_level"), ack_limit=_limit(data.get("ack_limit")),
        handle_limit=_limit(data.get("handle_limit")),
        closing_condition=data.get("closing_condition") or "")


def _limit(data: Mapping[str, Any] | None) -> tuple[float, str] | None:
    if not data:
        return None
    amount = data["amount"]
    return (int(amount) if float(amount).is_integer() else float(amount), str(data["unit"]))


def problems(subs: Iterable[Subcategory]) -> list[CatalogueProblem]:
    """Every rule the catalogue ``subs`` breaks on its own (empty: a valid version)."""
    subs = list(subs)
    found: list[CatalogueProblem] = []
    seen: set[str] = set()
    for sub in subs:
        found += _problems_of(sub)
        if sub.code in seen:
            found.append(CatalogueProblem("code", f"subcategory {sub.code} is listed twice"))
        seen.add(sub.code)
    live = {sub.work_category for sub in subs if not sub.retired}
    missing = sorted(str(c) for c in set(WorkCategory) - live)
    if missing:  # P5.2: every work category can be reported
        found.append(CatalogueProblem(
            "work_category", "every P5.2 work category needs a subcategory in use; none "
                             f"for {', '.join(missing)}"))
    return found


def _problems_of(sub: Subcategory) -> list[CatalogueProblem]:
    found = []
    for name, value in (("code", sub.code), ("alert_category", sub.alert_category)):
        if len(value) > CODE_MAX_LENGTH or not CODE_RE.match(value):
            found.append(CatalogueProblem(name, f"{value!r} is not a snake_case code"))
    if sub.cap_category not in CAP_CATEGORIES:
        found.append(CatalogueProblem(
            "cap_category", f"{sub.code}: {sub.cap_category!r} is not a CAP 1.2 category"))
    for name, value in (("name_zh", sub.name_zh), ("name_en", sub.name_en)):
        if not value.strip() or len(value) > NAME_MAX:
            found.append(CatalogueProblem(name, f"{sub.code}: {name} needs 1-{NAME_MAX} "
                                                "characters"))
    if sub.public and sub.work_category in NEVER_PUBLIC:  # P5.4.4, P5.2.7
        found.append(CatalogueProblem(
            "public", f"{sub.code}: {sub.work_category} cases are never public"))
    if sub.sensitive and sub.public:  # P5.2.5
        found.append(CatalogueProblem(
            "public", f"{sub.code}: a sensitive subcategory is never public"))
    if sub.work_category == WorkCategory.SPECIAL_GROUP_ASSISTANCE and not sub.sensitive:
        found.append(CatalogueProblem(
            "sensitive", f"{sub.code}: special-group assistance reveals a special group "
                         "(P5.2.5): mark it sensitive"))
    found += _handling_problems(sub)
    codes = [attr.code for attr in sub.attributes]
    if len(set(codes)) != len(codes):
        found.append(CatalogueProblem("attributes", f"{sub.code}: an attribute code is "
                                                    "used twice"))
    return found


def _handling_problems(sub: Subcategory) -> list[CatalogueProblem]:
    """The handling defaults are what dispatch can apply (P5.3.2 levels, P5.3.3 limits)."""
    found = []
    if sub.handling_level is not None and sub.handling_level not in HANDLING_LEVELS:
        found.append(CatalogueProblem("handling_level", f"{sub.code}: one of "
                                                        f"{', '.join(HANDLING_LEVELS)}"))
    for name in ("ack_limit", "handle_limit"):
        limit = getattr(sub, name)
        if limit is not None and (limit[1] not in LIMIT_UNITS or not 0 < limit[0] <= 10000):
            found.append(CatalogueProblem(name, f"{sub.code}: an amount in (0, 10000] of "
                                                f"{', '.join(LIMIT_UNITS)}"))
    if sub.ack_limit and sub.handle_limit and sub.ack_limit[1] == sub.handle_limit[1] \
            and sub.ack_limit[0] > sub.handle_limit[0]:  # P5.3.3: report in, then handle
        found.append(CatalogueProblem("ack_limit", f"{sub.code}: reporting in cannot take "
                                                   "longer than handling"))
    if len(sub.closing_condition) > CLOSING_CONDITION_MAX:
        found.append(CatalogueProblem("closing_condition", f"{sub.code}: at most "
                                                           f"{CLOSING_CONDITION_MAX} characters"))
    return found


def successor_problems(previous: Catalogue, subs: Iterable[Subcategory]
                       ) -> list[CatalogueProblem]:
    """What a new version breaks of the rules between versions (module docstring)."""
    new = {sub.code: sub for sub in subs}
    found = []
    for old in previous.subcategories:
        now = new.get(old.code)
        if now is None:
            found.append(CatalogueProblem(
                "code", f"{old.code} cannot be removed: retire it (codes are never reused)"))
            continue
        if now.work_category != old.work_category:  # P5.3.1: archived by class
            found.append(CatalogueProblem(
                "work_category", f"{old.code} stays under {old.work_category}: cases are "
                                 "archived by it; add a new subcategory instead"))
        if old.sensitive and not now.sensitive:  # P5.2.5
            found.append(CatalogueProblem(
                "sensitive", f"{old.code} stays sensitive: its cases reveal special-group "
                             "membership"))
    return found


@dataclass(frozen=True)
class Catalogue:
    """A stored catalogue version; retired subcategories stay readable for old cases."""

    version: int
    subcategories: tuple[Subcategory, ...]
    by_code: dict[str, Subcategory] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {s.code: s for s in self.subcategories})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        return cls(int(data["version"]),
                   tuple(subcategory_from_dict(s) for s in data["subcategories"]))

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version,
                "subcategories": [subcategory_to_dict(s) for s in self.subcategories]}

    def get(self, code: str) -> Subcategory | None:
        """Any subcategory, retired or not (an old case names it)."""
        return self.by_code.get(code)

    @property
    def public(self) -> tuple[Subcategory, ...]:
        """The Open311 services: public and not retired."""
        return tuple(s for s in self.subcategories if s.public and not s.retired)

    @property
    def public_codes(self) -> tuple[str, ...]:
        """Codes whose cases the public may see, retired ones included (filed before)."""
        return tuple(s.code for s in self.subcategories if s.public)

    @property
    def sensitive_codes(self) -> tuple[str, ...]:
        """P5.2.5: codes whose cases reveal special-group membership."""
        return tuple(s.code for s in self.subcategories if s.sensitive)

    def is_sensitive(self, code: str) -> bool:
        sub = self.by_code.get(code)
        return sub is not None and sub.sensitive

    def subcategory(self, code: str, work_category: str | None = None) -> Subcategory:
        """The subcategory a new report names; it must be in use and belong to
        ``work_category`` when one is given (a case is filed under one P5.2 category)."""
        sub = self.by_code.get(code)
        if sub is None or sub.retired:
            raise CatalogueError("subcategory", f"unknown subcategory {code!r}")
        if work_category is not None and sub.work_category != work_category:
            raise CatalogueError("subcategory", f"{code} belongs to work category "
                                                f"{sub.work_category}, not {work_category}")
        return sub

    def public_subcategory(self, code: str) -> Subcategory:
        """A subcategory the public may report now (an Open311 service)."""
        sub = self.by_code.get(code)
        if sub is None or not sub.public or sub.retired:
            raise CatalogueError("service_code", f"unknown service_code {code!r}")
        return sub

    def successor(self, subs: Iterable[Subcategory]) -> Catalogue:
        """The next version made of ``subs``; CatalogueRefused lists every broken rule."""
        subs = tuple(subs)
        found = problems(subs) + successor_problems(self, subs)
        if found:
            raise CatalogueRefused(found)
        return Catalogue(self.version + 1, subs)

    def with_subcategory(self, sub: Subcategory) -> Catalogue:
        """The next version with ``sub`` added (a code already used is refused)."""
        if sub.code in self.by_code:
            raise CatalogueRefused([CatalogueProblem(
                "code", f"subcategory {sub.code} exists (codes are never reused)")])
        return self.successor((*self.subcategories, sub))

    def with_changes(self, code: str, changes: Mapping[str, Any]) -> Catalogue:
        """The next version with subcategory ``code`` changed (names, flags, retired…)."""
        old = self.by_code.get(code)
        if old is None:
            raise KeyError(code)
        changed = subcategory_from_dict({**subcategory_to_dict(old), **changes})
        return self.successor(changed if s.code == code else s for s in self.subcategories)


class CatalogueRefused(ValueError):
    """A catalogue version that breaks one or more rules; ``problems`` lists them all."""

    def __init__(self, found: list[CatalogueProblem]) -> None:
        super().__init__("; ".join(p.message for p in found))
        self.problems = found

    def fields(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for problem in self.problems:
            out.setdefault(problem.field, []).append(problem.message)
        return out


def packaged() -> Catalogue:
    """The catalogue shipped with the code: stored as version 1 on first use."""
    found = problems(CATALOGUE)
    if found:
        raise RuntimeError(f"the packaged catalogue is invalid: {found}")
    return Catalogue(1, tuple(CATALOGUE))


DEFAULT = packaged()
