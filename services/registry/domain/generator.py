"""Synthetic district generator for the demo (``make up``) and the benchmarks.

Builds a district whose towns tile its bounding box, whose communities tile each town and
whose rectangular grids tile each community exactly (P3.1: no gaps, no overlaps), with
nested codes (P4.1), Chinese names, staff at every level (P5.0), a few exclusive grids
(P4.1) and, lazily, neighbourhoods, buildings, households and residents with valid
GB 11643 ID numbers.

Determinism: the same arguments always give the same district.  The district structure
comes from one ``random.Random(seed)``; everything below a grid comes from a generator
seeded by (seed, grid code), so ``iter_residents(grid)`` can be called for any grid, in any
order, any number of times, and 5 million residents never need to be in memory together.

ID numbers are unique within a district although every resident shares its address code:
each grid owns one sequence number per sex (``ordinal mod 499``, permuted) and the
birth dates ≡ ``ordinal div 499`` (mod stride), where stride = ⌈grids / 499⌉; within the
grid a birth date is used at most once per sex, moving by ``stride`` days if taken.  Ages
therefore shift by at most a few weeks, invisible in demo data.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate

import shapely
from shapely.geometry.base import BaseGeometry

from gridgov_common.kernel.roles import Role
from services.registry.domain import codes, names
from services.registry.domain.identity import check_character

BBox = tuple[float, float, float, float]  # (lon0, lat0, lon1, lat1): west, south, east, north

# Suzhou high-tech zone (虎丘区), code 320505: a real urban district for plausible demo maps.
DEFAULT_DISTRICT_CODE = "320505"
DEFAULT_DISTRICT_NAME = "虎丘区"
DEFAULT_BBOX: BBox = (120.43, 31.26, 120.60, 31.38)
# Ages are computed against a fixed day, not today, so output never depends on the clock.
DEFAULT_AS_OF = date(2024, 6, 30)
DEFAULT_EXCLUSIVE_SHARE = 0.02
MAX_AGE = 98
# Sequence pairs (odd male 2c+1, even female 2c+2) for c = 0…498: 001–998, never 000/999.
SEQUENCE_CLASSES = 499
_SEQ_PERMUTE = 7919  # prime, coprime with 499: neighbouring grids get unrelated sequences
HOUSEHOLDS_PER_WORKER = 100  # one neighbourhood grid worker per ~100 households (P5.1.5)
GRIDS_PER_COMMUNITY_WORKER = 2

_SURNAMES = tuple(s for s, _ in names.SURNAMES)
_SURNAME_CUM = tuple(accumulate(w for _, w in names.SURNAMES))
_DOUBLE_SURNAMES = frozenset(s for s in _SURNAMES if len(s) == 2)


@dataclass(frozen=True, slots=True)
class _Params:
    """District-wide settings every grid needs to derive its contents."""

    seed: int
    district_code: str
    households_per_grid: int
    people_per_household: float
    as_of: date
    date_stride: int


@dataclass(frozen=True, slots=True)
class Building:
    number: int
    neighbourhood: str
    address: str  # "枫桥街道 锦绣社区 锦绣花园3幢"
    lon: float
    lat: float
    units: int
    floors: int
    households: int  # occupied flats


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """A 小区 (P5.0: the level between community and residents)."""

    name: str
    grid_code: str
    buildings: tuple[Building, ...]


@dataclass(frozen=True, slots=True)
class Household:
    key: str  # unique in the district: grid code + 4-digit number
    grid_code: str
    building: Building
    unit: str  # "2单元501室"
    size: int

    @property
    def address(self) -> str:
        return f"{self.building.address}{self.unit}"


@dataclass(frozen=True, slots=True)
class Resident:
    household_key: str
    grid_code: str
    name: str
    sex: str  # "M" / "F"
    birth_date: date
    id_number: str
    phone: str | None
    relationship: str  # head | spouse | child | parent | grandchild


@dataclass(frozen=True, slots=True)
class Grid:
    code: str
    name: str
    kind: str  # base | exclusive (P4.1)
    owner_org: str | None
    bbox: BBox
    household_count: int
    ordinal: int  # 0-based position in the district, drives ID uniqueness
    town_name: str
    community_name: str
    params: _Params = field(repr=False, compare=False)

    @property
    def community_code(self) -> str:
        return self.code[:codes.COMMUNITY_CODE_LENGTH]

    @property
    def geometry(self) -> BaseGeometry:
        return shapely.box(*self.bbox)


@dataclass(frozen=True, slots=True)
class Community:
    code: str
    name: str
    bbox: BBox
    grids: tuple[Grid, ...]

    @property
    def geometry(self) -> BaseGeometry:
        return shapely.box(*self.bbox)


@dataclass(frozen=True, slots=True)
class Town:
    code: str
    name: str
    kind: str  # codes.TownKind value
    bbox: BBox
    communities: tuple[Community, ...]

    @property
    def geometry(self) -> BaseGeometry:
        return shapely.box(*self.bbox)


@dataclass(frozen=True, slots=True)
class Staff:
    role: str
    scope_code: str
    name: str
    phone: str
    lifecycle_state: str  # "filed" for neighbourhood grid workers, else "active"
    grid_codes: tuple[str, ...] = ()  # the grids a community grid worker leads
    employer: str | None = None  # exclusive grids: a person of the owner (P4.1)


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str
    bbox: BBox
    seed: int
    towns: tuple[Town, ...]
    params: _Params = field(repr=False, compare=False)

    @property
    def geometry(self) -> BaseGeometry:
        return shapely.box(*self.bbox)

    def iter_communities(self) -> Iterator[Community]:
        for town in self.towns:
            yield from town.communities

    def iter_grids(self) -> Iterator[Grid]:
        for community in self.iter_communities():
            yield from community.grids

    @property
    def grid_count(self) -> int:
        return sum(len(c.grids) for c in self.iter_communities())

    def iter_staff(self) -> Iterator[Staff]:
        """Staff at every level (see module-level ``iter_staff``)."""
        return iter_staff(self)

    def iter_residents(self) -> Iterator[Resident]:
        """Every resident, streamed grid by grid."""
        return iter_all_residents(self)


# --- layout -------------------------------------------------------------------------------

def split_bbox(bbox: BBox, n: int) -> list[BBox]:
    """Tile ``bbox`` with ``n`` rectangles, numbered north→south then west→east.

    Rows get ⌊n/rows⌋ or ⌈n/rows⌉ cells; every edge is computed once and shared by both
    neighbours, so the tiles meet exactly (no float gaps) and cover the box.
    """
    lon0, lat0, lon1, lat1 = bbox
    width = (lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2))
    height = lat1 - lat0
    rows = min(n, max(1, round(math.sqrt(n * height / width))))
    base, extra = divmod(n, rows)
    lat_edges = [lat1 - height * i / rows for i in range(rows)] + [lat0]
    tiles = []
    for r in range(rows):
        cols = base + (1 if r < extra else 0)
        lon_edges = [lon0 + (lon1 - lon0) * j / cols for j in range(cols)] + [lon1]
        tiles.extend((lon_edges[j], lat_edges[r + 1], lon_edges[j + 1], lat_edges[r])
                     for j in range(cols))
    return tiles


def _town_codes(district_code: str, towns: int) -> list[str]:
    """Mostly streets (街道 001–099), the rest towns (镇 100–199): an urban district."""
    streets = min(99, math.ceil(towns * 0.7))
    rural = towns - streets
    if rural > 100:
        raise ValueError("at most 199 towns (99 streets + 100 towns) per district")
    numbers = list(range(1, streets + 1)) + list(range(100, 100 + rural))
    return [f"{district_code}{n:03d}" for n in numbers]


def _numbered(pool: tuple[str, ...], i: int) -> str:
    """pool[i], or with a numeral once the pool is used up (names stay unique)."""
    word = pool[i % len(pool)]
    rounds = i // len(pool)
    return word if rounds == 0 else f"{word}{rounds + 1}"


def _neighbourhood_name(community_index: int, k: int) -> str:
    """Unique within a community for k < stems × suffixes (2,052 ≥ 999 grids × 2)."""
    stems, suffixes = names.NEIGHBOURHOOD_STEMS, names.NEIGHBOURHOOD_SUFFIXES
    combo = (community_index * 31 + k) % (len(stems) * len(suffixes))
    return stems[combo % len(stems)] + suffixes[combo // len(stems)]


def generate_district(seed: int, towns: int, communities_per_town: int,
                      grids_per_community: int, households_per_grid: int = 250,
                      people_per_household: float = 2.8, bbox: BBox = DEFAULT_BBOX, *,
                      district_code: str = DEFAULT_DISTRICT_CODE,
                      district_name: str = DEFAULT_DISTRICT_NAME,
                      as_of: date = DEFAULT_AS_OF,
                      exclusive_share: float = DEFAULT_EXCLUSIVE_SHARE) -> District:
    """Generate a district's structure (towns, communities, grids); contents are lazy.

    Base grids get households_per_grid ±10 % households (inside the P4.1 band); exclusive
    grids (about ``exclusive_share`` of grids, at least one when there are 10 or more
    grids) get few households and an owner organisation.
    """
    district_code = codes.validate_district_code(district_code, "district_code")
    if not (0 < communities_per_town <= 999 and 0 < grids_per_community
            <= codes.MAX_GRID_SEQUENCE and towns > 0):
        raise ValueError("need towns ≥ 1, 1–999 communities per town, 1–999 grids each")
    if people_per_household < 1:
        raise ValueError("people_per_household must be at least 1")
    total = towns * communities_per_town * grids_per_community
    params = _Params(seed, district_code, households_per_grid, people_per_household, as_of,
                     date_stride=math.ceil(total / SEQUENCE_CLASSES))
    rng = random.Random(seed)
    town_codes = _town_codes(district_code, towns)
    ordinal = 0
    built = []
    for t, (town_code, town_box) in enumerate(zip(town_codes, split_bbox(bbox, towns),
                                                  strict=True)):
        kind = codes.town_kind(town_code)
        town_name = _numbered(names.TOWN_STEMS, t) + ("街道" if kind == "street" else "镇")
        communities = []
        for c, community_box in enumerate(split_bbox(town_box, communities_per_town)):
            community_code = f"{town_code}{c + 1:03d}"
            community_name = _numbered(names.COMMUNITY_WORDS, t * 7 + c) + "社区"
            grids = []
            for g, grid_box in enumerate(split_bbox(community_box, grids_per_community)):
                # P4.1: a few exclusive grids (专属网格) owned by an employer or building
                exclusive = (rng.random() < exclusive_share
                             or (total >= 10 and ordinal == grids_per_community - 1
                                 and grids_per_community > 1))
                grids.append(_make_grid(rng, params, f"{community_code}{g + 1:03d}", grid_box,
                                        ordinal, town_name, community_name, exclusive))
                ordinal += 1
            communities.append(Community(community_code, community_name, community_box,
                                         tuple(grids)))
        built.append(Town(town_code, town_name, kind.value, town_box, tuple(communities)))
    return District(district_code, district_name, bbox, seed, tuple(built), params)


def _make_grid(rng: random.Random, params: _Params, code: str, bbox: BBox, ordinal: int,
               town_name: str, community_name: str, exclusive: bool) -> Grid:
    sequence = int(code[codes.COMMUNITY_CODE_LENGTH:])
    if exclusive:
        owner = names.EXCLUSIVE_OWNERS[rng.randrange(len(names.EXCLUSIVE_OWNERS))]
        return Grid(code, f"{owner}专属网格", "exclusive", owner, bbox, rng.randint(0, 40),
                    ordinal, town_name, community_name, params)
    # P4.1: base grids of about 200–300 households
    households = round(params.households_per_grid * rng.uniform(0.9, 1.1))
    return Grid(code, f"{community_name}第{sequence}网格", "base", None, bbox, households,
                ordinal, town_name, community_name, params)


# --- contents of a grid (lazy) ------------------------------------------------------------

def _grid_rng(grid: Grid, stream: str) -> random.Random:
    """A generator private to (seed, grid, stream): str seeds hash with SHA-512, so this is
    stable across runs and Python processes (unlike ``hash()``)."""
    return random.Random(f"{grid.params.seed}:{grid.code}:{stream}")


def neighbourhoods(grid: Grid) -> list[Neighbourhood]:
    """The grid's 小区 and buildings, with building points strictly inside the grid."""
    rng = _grid_rng(grid, "buildings")
    specs = []
    remaining = grid.household_count
    while remaining > 0:
        units, floors = rng.randint(1, 3), rng.choice((6, 6, 7, 11, 18))
        occupied = min(remaining, units * floors * 2)
        specs.append((units, floors, occupied))
        remaining -= occupied
    if not specs:
        specs.append((1, rng.choice((3, 4, 5)), 0))  # offices of an exclusive grid
    community_index = int(grid.code[codes.TOWN_CODE_LENGTH:codes.COMMUNITY_CODE_LENGTH])
    sequence = int(grid.code[codes.COMMUNITY_CODE_LENGTH:])
    parts = 2 if len(specs) >= 4 and rng.random() < 0.2 else 1
    points = _building_points(rng, grid.bbox, len(specs))
    result = []
    per_part = math.ceil(len(specs) / parts)
    for p in range(parts):
        name = _neighbourhood_name(community_index, (sequence - 1) * 2 + p)
        chunk = range(p * per_part, min(len(specs), (p + 1) * per_part))
        buildings = tuple(
            Building(n + 1, name, f"{grid.town_name} {grid.community_name} {name}{n + 1}幢",
                     *points[i], *specs[i])
            for n, i in enumerate(chunk))
        result.append(Neighbourhood(name, grid.code, buildings))
    return result


def _building_points(rng: random.Random, bbox: BBox, n: int) -> list[tuple[float, float]]:
    """One point per building on a jittered lattice, kept away from the grid's edges."""
    lon0, lat0, lon1, lat1 = bbox
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    dx, dy = (lon1 - lon0) / cols, (lat1 - lat0) / rows
    points = []
    for i in range(n):
        r, c = divmod(i, cols)
        points.append((round(lon0 + dx * (c + 0.5 + rng.uniform(-0.3, 0.3)), 7),
                       round(lat1 - dy * (r + 0.5 + rng.uniform(-0.3, 0.3)), 7)))
    return points


def iter_households(grid: Grid) -> Iterator[Household]:
    """Households of a grid, flat by flat ("2单元501室"), with their sizes."""
    size_rng = _grid_rng(grid, "households")
    mean_extra = grid.params.people_per_household - 1
    number = 0
    for neighbourhood in neighbourhoods(grid):
        for building in neighbourhood.buildings:
            for flat in range(building.households):
                unit, rest = divmod(flat, building.floors * 2)
                floor, door = divmod(rest, 2)
                number += 1
                yield Household(f"{grid.code}{number:04d}", grid.code, building,
                                f"{unit + 1}单元{floor + 1}{door + 1:02d}室",
                                min(9, 1 + _poisson(size_rng, mean_extra)))


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; household sizes are 1 + Poisson(mean − 1)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class _IdMaker:
    """Allocates unique (birth date, sequence) pairs for one grid (see module docstring)."""

    __slots__ = ("_address", "_as_of", "_earliest", "_phase", "_seq", "_stride", "_used")

    def __init__(self, grid: Grid) -> None:
        params = grid.params
        self._address = params.district_code
        self._as_of = params.as_of.toordinal()
        self._earliest = self._as_of - 366 * (MAX_AGE + 2)
        self._stride = params.date_stride
        self._phase = grid.ordinal // SEQUENCE_CLASSES
        seq_class = (grid.ordinal * _SEQ_PERMUTE) % SEQUENCE_CLASSES
        self._seq = {"M": 2 * seq_class + 1, "F": 2 * seq_class + 2}
        self._used: dict[str, set[int]] = {"M": set(), "F": set()}

    def make(self, rng: random.Random, sex: str, age: int) -> tuple[str, date]:
        target = self._as_of - age * 365 - rng.randrange(365)
        base = target - (target - self._phase) % self._stride
        used = self._used[sex]
        for step in range(4000):
            offset = (step + 1) // 2 * (1 if step % 2 else -1)
            day = base + offset * self._stride
            if self._earliest <= day <= self._as_of and day not in used:
                used.add(day)
                born = date.fromordinal(day)
                first17 = (f"{self._address}{born.year:04d}{born.month:02d}{born.day:02d}"
                           f"{self._seq[sex]:03d}")
                return first17 + check_character(first17), born
        raise RuntimeError("grid has more residents of one sex than free birth dates")


def _name(rng: random.Random, sex: str, surname: str | None = None) -> str:
    if surname is None:
        surname = _SURNAMES[bisect(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]
    pool = names.MALE_CHARS if sex == "M" else names.FEMALE_CHARS
    given = rng.choice(pool)
    if rng.random() < 0.7:
        given += rng.choice(pool)
    return surname + given


def _surname(name: str) -> str:
    return name[:2] if name[:2] in _DOUBLE_SURNAMES else name[0]


def _phone(rng: random.Random) -> str:
    return rng.choice(names.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _members(rng: random.Random, size: int) -> list[tuple[str, str, int, str | None]]:
    """(relationship, sex, age, surname source) of each member; the head comes first."""
    head_sex = "M" if rng.random() < 0.6 else "F"
    head_age = rng.randint(30, 70) if size >= 3 else rng.randint(22, 88)
    members = [("head", head_sex, head_age, None)]
    other = "F" if head_sex == "M" else "M"
    if size >= 2 and rng.random() < 0.85:
        members.append(("spouse", other, max(20, head_age + rng.randint(-5, 5)), None))
    while len(members) < size:
        roll = rng.random()
        child_age = head_age - rng.randint(22, 36)
        if roll < 0.75 and child_age >= 0:
            members.append(("child", rng.choice("MF"), child_age, "father"))
        elif roll < 0.9 and head_age + 22 <= MAX_AGE:
            members.append(("parent", rng.choice("MF"),
                            min(MAX_AGE, head_age + rng.randint(22, 32)), "head"))
        else:
            members.append(("grandchild", rng.choice("MF"),
                            max(0, head_age - rng.randint(45, 60)), "father"))
    return members


def iter_residents(grid: Grid) -> Iterator[Resident]:
    """Residents of a grid, household by household, generated on demand.

    Children and grandchildren take the father's surname (the head's if there is no
    husband in the household), a parent of the head shares the head's surname when male.
    Everyone from 14 has a mobile phone (95 %).
    """
    rng = _grid_rng(grid, "residents")
    ids = _IdMaker(grid)
    for household in iter_households(grid):
        head_name = spouse_name = ""
        head_male = True
        for relationship, sex, age, surname_from in _members(rng, household.size):
            surname = None
            if surname_from == "father":
                husband = head_name if head_male else spouse_name
                surname = _surname(husband or head_name)
            elif surname_from == "head" and sex == "M":
                surname = _surname(head_name)
            name = _name(rng, sex, surname)
            if relationship == "head":
                head_name, head_male = name, sex == "M"
            elif relationship == "spouse":
                spouse_name = name
            id_number, born = ids.make(rng, sex, age)
            phone = _phone(rng) if age >= 14 and rng.random() < 0.95 else None
            yield Resident(household.key, grid.code, name, sex, born, id_number, phone,
                           relationship)


def iter_all_residents(district: District) -> Iterator[Resident]:
    """Every resident of the district, grid by grid (streaming)."""
    for grid in district.iter_grids():
        yield from iter_residents(grid)


# --- staff (P5.0, P5.1) -------------------------------------------------------------------

def iter_staff(district: District) -> Iterator[Staff]:
    """Staff at every level, top down (P5.0).

    One town grid chief per town (P5.1.1); one grid instructor (P5.1.2) and one community
    grid chief (P5.1.3) per community; one community grid worker per two grids (P5.1.4,
    community scope, leading those grids); one neighbourhood grid worker per ~100
    households of each grid, already filed with the Social Affairs Bureau (P5.1.5) — for an
    exclusive grid, one person of the owning organisation (P4.1).
    """
    rng = random.Random(f"{district.seed}:staff")
    for town in district.towns:
        yield Staff(Role.TOWN_GRID_CHIEF.value, town.code, _name(rng, _sex(rng)),
                    _phone(rng), "active")
        for community in town.communities:
            yield from _community_staff(rng, community)


def iter_office_staff(district: District, departments: Iterable[str]) -> Iterator[Staff]:
    """The offices' people, so every workbench has someone to sign in (issue 14): the
    district admin (Social Affairs Bureau, P4.1) and an operations centre viewer (P6.2),
    then one officer per department (P2.2 "departments report in"), in the order given.
    Kept apart from ``iter_staff`` so the grid staff of a seed never change."""
    rng = random.Random(f"{district.seed}:offices")
    yield Staff(Role.DISTRICT_ADMIN.value, district.code, _name(rng, _sex(rng)), _phone(rng),
                "active")
    yield Staff(Role.OPS_VIEWER.value, district.code, _name(rng, _sex(rng)), _phone(rng),
                "active")
    for code in departments:
        yield Staff(Role.DEPARTMENT_OFFICER.value, code, _name(rng, _sex(rng)), _phone(rng),
                    "active")


def _sex(rng: random.Random) -> str:
    return "M" if rng.random() < 0.5 else "F"


def _community_staff(rng: random.Random, community: Community) -> Iterator[Staff]:
    for role in (Role.GRID_INSTRUCTOR, Role.COMMUNITY_GRID_CHIEF):
        yield Staff(role.value, community.code, _name(rng, _sex(rng)), _phone(rng), "active")
    grids = community.grids
    for i in range(0, len(grids), GRIDS_PER_COMMUNITY_WORKER):
        led = tuple(g.code for g in grids[i:i + GRIDS_PER_COMMUNITY_WORKER])
        yield Staff(Role.COMMUNITY_GRID_WORKER.value, community.code, _name(rng, _sex(rng)),
                    _phone(rng), "active", led)
    for grid in grids:
        workers = (1 if grid.kind == "exclusive"
                   else max(1, math.ceil(grid.household_count / HOUSEHOLDS_PER_WORKER)))
        for _ in range(workers):
            yield Staff(Role.NEIGHBOURHOOD_GRID_WORKER.value, grid.code,
                        _name(rng, _sex(rng)), _phone(rng), "filed", (grid.code,),
                        grid.owner_org)
