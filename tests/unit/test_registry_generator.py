"""Synthetic district generator: exact tiling (P3.1), nested codes (P4.1), valid IDs,
staff at every level (P5.0), determinism."""

from collections import Counter
from datetime import date
from itertools import islice

import pytest
import shapely

from services.registry.domain import codes, generator, geometry, identity
from services.registry.domain.generator import generate_district

TODAY = date(2024, 6, 30)


@pytest.fixture(scope="module")
def district():
    return generate_district(42, towns=3, communities_per_town=4, grids_per_community=5)


@pytest.fixture(scope="module")
def residents(district):
    return list(generator.iter_all_residents(district))


def _assert_tiles(container, parts):
    """No overlaps between parts, no gaps in the container, nothing outside it."""
    for i, part in enumerate(parts):
        others = [(str(j), p) for j, p in enumerate(parts) if j != i]
        assert geometry.find_overlaps(part, others, tolerance_m2=0.01) == []
        assert geometry.area_outside_m2(container, part) < 0.01
    assert geometry.coverage_gaps(container, parts, min_area_m2=0.01) == []
    total = sum(geometry.area_m2(p) for p in parts)
    assert total == pytest.approx(geometry.area_m2(container), rel=1e-6)


def test_structure_counts(district):
    assert district.code == "320505"
    assert len(district.towns) == 3
    assert all(len(t.communities) == 4 for t in district.towns)
    assert district.grid_count == 60 == len(list(district.iter_grids()))


def test_towns_tile_the_district(district):
    _assert_tiles(district.geometry, [t.geometry for t in district.towns])


def test_communities_tile_each_town_and_grids_each_community(district):
    for town in district.towns:
        _assert_tiles(town.geometry, [c.geometry for c in town.communities])
        for community in town.communities:
            _assert_tiles(community.geometry, [g.geometry for g in community.grids])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 11, 20])
def test_split_bbox_tiles_exactly_for_awkward_counts(n):
    box = (120.43, 31.26, 120.60, 31.38)
    tiles = generator.split_bbox(box, n)
    assert len(tiles) == n
    _assert_tiles(shapely.box(*box), [shapely.box(*t) for t in tiles])
    # numbered north→south: the first tile touches the northern edge
    assert tiles[0][3] == box[3] and tiles[0][0] == box[0]


def test_codes_nest_and_validate(district):
    for town in district.towns:
        codes.validate_town_code(town.code)
        assert codes.parent_code(town.code) == district.code
        assert town.kind == codes.town_kind(town.code)
        for community in town.communities:
            codes.validate_community_code(community.code)
            assert codes.parent_code(community.code) == town.code
            for grid in community.grids:
                codes.validate_grid_code(grid.code)
                assert grid.community_code == community.code
                assert codes.is_within(grid.code, town.code)
    all_codes = [g.code for g in district.iter_grids()]
    assert len(set(all_codes)) == len(all_codes)


def test_grid_sequences_are_what_the_registry_would_issue(district):
    community = district.towns[0].communities[0]
    issued: list[str] = []
    for grid in community.grids:
        assert codes.next_grid_code(community.code, issued) == grid.code
        issued.append(grid.code)


def test_towns_are_streets_then_towns():
    d = generate_district(1, towns=10, communities_per_town=1, grids_per_community=1)
    kinds = [t.kind for t in d.towns]
    assert kinds == ["street"] * 7 + ["town"] * 3
    assert all(t.name.endswith("街道") for t in d.towns[:7])
    assert all(t.name.endswith("镇") for t in d.towns[7:])
    assert len({t.name for t in d.towns}) == 10


def test_names_unique_within_parent(district):
    for town in district.towns:
        names = [c.name for c in town.communities]
        assert len(set(names)) == len(names)
        assert all(n.endswith("社区") for n in names)
        for community in town.communities:
            hoods = [n.name for g in community.grids for n in generator.neighbourhoods(g)]
            assert len(set(hoods)) == len(hoods)


def test_exclusive_grids_have_an_owner(district):
    exclusive = [g for g in district.iter_grids() if g.kind == "exclusive"]
    assert exclusive, "a demo district shows at least one exclusive grid (P4.1)"
    assert all(g.owner_org and "专属网格" in g.name for g in exclusive)
    base = [g for g in district.iter_grids() if g.kind == "base"]
    assert all(g.owner_org is None for g in base)
    # base grids stay within the P4.1 band (households_per_grid ±10 %)
    assert all(225 <= g.household_count <= 275 for g in base)


def test_buildings_inside_their_grid_with_addresses(district):
    for grid in islice(district.iter_grids(), 15):
        box = grid.geometry
        hoods = generator.neighbourhoods(grid)
        buildings = [b for n in hoods for b in n.buildings]
        assert sum(b.households for b in buildings) == grid.household_count
        for b in buildings:
            assert box.contains(shapely.Point(b.lon, b.lat))  # strictly inside
            assert b.address.startswith(f"{grid.town_name} {grid.community_name} ")
            assert b.address.endswith(f"{b.number}幢")
            assert b.households <= b.units * b.floors * 2


def test_households(district):
    grid = next(g for g in district.iter_grids() if g.kind == "base")
    households = list(generator.iter_households(grid))
    assert len(households) == grid.household_count
    assert len({h.key for h in households}) == len(households)
    assert all(h.key.startswith(grid.code) for h in households)
    assert "单元" in households[0].unit and households[0].unit.endswith("室")
    assert households[0].address.endswith(households[0].unit)
    addresses = [h.address for h in households]
    assert len(set(addresses)) == len(addresses)
    mean = sum(h.size for h in households) / len(households)
    assert 2.3 < mean < 3.3
    assert all(1 <= h.size <= 9 for h in households)


def test_every_generated_id_validates_and_is_unique(residents):
    assert len(residents) > 10_000
    ids = [r.id_number for r in residents]
    assert len(set(ids)) == len(ids)
    for r in residents:
        assert identity.normalise_id_number(r.id_number, TODAY) == r.id_number
        assert r.id_number.startswith("320505")
        assert identity.birth_date(r.id_number) == r.birth_date
        assert identity.sex(r.id_number) == r.sex


def test_ids_unique_across_many_grids_sharing_sequence_numbers():
    # more grids than sequence classes: grids share sequences and must split birth dates
    d = generate_district(9, towns=1, communities_per_town=2, grids_per_community=300,
                          households_per_grid=20)
    assert d.grid_count > generator.SEQUENCE_CLASSES
    ids = [r.id_number for r in generator.iter_all_residents(d)]
    assert len(set(ids)) == len(ids)


def test_residents_are_plausible(residents):
    by_household: dict[str, list] = {}
    for r in residents:
        by_household.setdefault(r.household_key, []).append(r)
    for members in by_household.values():
        assert [m.relationship for m in members].count("head") == 1
        assert members[0].relationship == "head"
        head = members[0]
        for m in members:
            if m.relationship == "spouse":
                assert m.sex != head.sex
    ages = [(TODAY - r.birth_date).days / 365.25 for r in residents]
    assert min(ages) >= 0 and max(ages) <= generator.MAX_AGE + 1
    assert all(r.birth_date <= TODAY for r in residents)
    relationships = Counter(r.relationship for r in residents)
    assert set(relationships) <= {"head", "spouse", "child", "parent", "grandchild"}
    assert relationships["child"] > relationships["parent"]


def test_names_and_phones(residents):
    for r in residents[:3000]:
        assert 2 <= len(r.name) <= 4
        assert all("\u4e00" <= ch <= "\u9fff" for ch in r.name)
        if r.phone is not None:
            assert identity.normalise_phone(r.phone) == r.phone
            assert identity.phone_kind(r.phone) == "mobile"
    minors = [r for r in residents if (TODAY - r.birth_date).days < 14 * 365]
    assert minors and all(r.phone is None for r in minors)
    surnames = Counter(r.name[0] for r in residents)
    assert surnames.most_common(1)[0][0] in "王李张刘陈"


def test_children_take_the_fathers_surname(residents):
    by_household: dict[str, list] = {}
    for r in residents:
        by_household.setdefault(r.household_key, []).append(r)
    checked = 0
    for members in by_household.values():
        head = members[0]
        if head.sex != "M" or len(head.name) > 3:
            continue
        for m in members:
            if m.relationship == "child" and not head.name.startswith(("欧阳", "司马",
                                                                       "诸葛", "上官")):
                assert m.name[0] == head.name[0]
                checked += 1
    assert checked > 100


def test_staff_at_every_level(district):
    staff = list(generator.iter_staff(district))
    by_role = Counter(s.role for s in staff)
    communities = list(district.iter_communities())
    grids = list(district.iter_grids())
    assert by_role["town_grid_chief"] == len(district.towns)
    assert by_role["grid_instructor"] == len(communities)
    assert by_role["community_grid_chief"] == len(communities)
    assert by_role["community_grid_worker"] == sum((len(c.grids) + 1) // 2 for c in communities)
    assert by_role["neighbourhood_grid_worker"] >= len(grids)
    for s in staff:
        assert identity.normalise_phone(s.phone) == s.phone
        level = {"town_grid_chief": 9, "grid_instructor": 12, "community_grid_chief": 12,
                 "community_grid_worker": 12, "neighbourhood_grid_worker": 15}[s.role]
        assert len(s.scope_code) == level
        if s.role == "neighbourhood_grid_worker":
            assert s.lifecycle_state == "filed" and s.grid_codes == (s.scope_code,)
        else:
            assert s.lifecycle_state == "active"
        if s.role == "community_grid_worker":
            assert 1 <= len(s.grid_codes) <= 2
            assert all(codes.is_within(g, s.scope_code) for g in s.grid_codes)
    led = [g for s in staff if s.role == "community_grid_worker" for g in s.grid_codes]
    assert sorted(led) == sorted(g.code for g in grids)  # every grid has one lead worker
    exclusive = {g.code: g.owner_org for g in grids if g.kind == "exclusive"}
    for s in staff:
        if s.role == "neighbourhood_grid_worker" and s.scope_code in exclusive:
            assert s.employer == exclusive[s.scope_code]  # P4.1: a person of the owner


def test_deterministic_for_a_seed():
    a = generate_district(7, 2, 2, 3)
    b = generate_district(7, 2, 2, 3)
    assert a == b
    grid_a, grid_b = list(a.iter_grids())[4], list(b.iter_grids())[4]
    assert list(generator.iter_residents(grid_a)) == list(generator.iter_residents(grid_b))
    assert list(generator.iter_residents(grid_a)) == list(generator.iter_residents(grid_a))
    assert list(generator.iter_staff(a)) == list(generator.iter_staff(b))
    assert generator.neighbourhoods(grid_a) == generator.neighbourhoods(grid_b)


def test_different_seeds_differ():
    a, b = generate_district(7, 1, 1, 3), generate_district(8, 1, 1, 3)
    grid_a, grid_b = next(a.iter_grids()), next(b.iter_grids())
    assert grid_a.code == grid_b.code  # codes follow the layout, not the seed
    first = next(generator.iter_residents(grid_a)), next(generator.iter_residents(grid_b))
    assert first[0].name != first[1].name or first[0].id_number != first[1].id_number


def test_residents_are_streamed(district):
    grid = next(district.iter_grids())
    stream = generator.iter_residents(grid)
    assert iter(stream) is stream  # a generator, not a list
    assert next(stream).relationship == "head"


def test_twenty_thousand_grids_structure():
    d = generate_district(1, towns=20, communities_per_town=50, grids_per_community=20)
    grids = list(d.iter_grids())
    assert len(grids) == 20_000
    assert len({g.code for g in grids}) == 20_000
    assert sum(g.kind == "exclusive" for g in grids) > 100
    # IDs of a late grid still validate (date stride > 1)
    late = grids[-1]
    for r in islice(generator.iter_residents(late), 50):
        assert identity.is_valid_id_number(r.id_number, TODAY)


def test_parameters_are_checked():
    with pytest.raises(ValueError):
        generate_district(1, 0, 1, 1)
    with pytest.raises(ValueError):
        generate_district(1, 1, 1, 1000)
    with pytest.raises(ValueError):
        generate_district(1, 1, 1, 1, people_per_household=0.5)
    with pytest.raises(codes.CodeError):
        generate_district(1, 1, 1, 1, district_code="990000")
    with pytest.raises(ValueError):
        generate_district(1, 250, 1, 1)


def test_custom_bbox_and_district():
    d = generate_district(3, 1, 2, 2, bbox=(116.3, 39.9, 116.4, 39.95),
                          district_code="110105", district_name="朝阳区")
    assert d.name == "朝阳区" and d.bbox == (116.3, 39.9, 116.4, 39.95)
    r = next(generator.iter_all_residents(d))
    assert r.id_number.startswith("110105")
    assert next(d.iter_grids()).code.startswith("110105001001")


@pytest.mark.parametrize(("towns", "communities", "grids"), [
    (199, 1, 1),  # 99 streets + 100 towns: the most codes a district has
    (1, 999, 1),  # three-digit community numbers
    (1, 1, 999),  # three-digit grid numbers (codes.MAX_GRID_SEQUENCE)
])
def test_the_largest_layouts_the_codes_allow_are_accepted(towns, communities, grids):
    d = generate_district(1, towns, communities, grids, households_per_grid=1)
    assert d.grid_count == towns * communities * grids
    codes_made = [g.code for g in d.iter_grids()]
    assert len(set(codes_made)) == len(codes_made)
    for code in (codes_made[0], codes_made[-1]):
        codes.validate_grid_code(code, "grid_code")
    if towns == 199:
        assert [t.code[-3:] for t in d.towns][98:100] == ["099", "100"]
        assert d.towns[-1].code.endswith("199") and d.towns[-1].kind == "town"


@pytest.mark.parametrize(("towns", "communities", "grids"), [
    (200, 1, 1), (1, 1000, 1), (1, 1, 1000), (0, 1, 1), (1, 0, 1), (1, 1, 0),
])
def test_layouts_beyond_the_codes_are_refused(towns, communities, grids):
    with pytest.raises(ValueError):
        generate_district(1, towns, communities, grids)


def test_one_person_households_are_allowed_and_fewer_are_not():
    d = generate_district(5, 1, 1, 2, households_per_grid=20, people_per_household=1)
    grid = next(g for g in d.iter_grids() if g.kind == "base")
    assert {h.size for h in generator.iter_households(grid)} == {1}
    with pytest.raises(ValueError, match="people_per_household"):
        generate_district(5, 1, 1, 2, people_per_household=0.99)


def test_ten_grids_or_more_always_have_an_exclusive_one():
    """P4.1: the last grid of the first community is exclusive once a district has 10."""
    for total, expected in ((9, False), (10, True)):
        d = generate_district(11, 1, 1, total, exclusive_share=0.0)
        kinds = [g.kind for g in d.iter_grids()]
        assert ("exclusive" in kinds) is expected, total
        if expected:
            assert kinds.index("exclusive") == total - 1


def test_a_forced_exclusive_grid_needs_a_community_of_two_grids_or_more():
    """The forced exclusive grid is the last of the first community, never a community's
    only grid (its one base grid would be gone)."""
    one_each = generate_district(11, 1, 10, 1, exclusive_share=0.0)
    assert {g.kind for g in one_each.iter_grids()} == {"base"}
    two_each = generate_district(11, 1, 5, 2, exclusive_share=0.0)
    assert [g.kind for g in two_each.iter_grids()][:3] == ["base", "exclusive", "base"]


def test_exclusive_grids_hold_0_to_40_households_and_empty_ones_an_office():
    """P4.1: an exclusive grid is a building or an employer: 0–40 households; one without
    any gets one office building of 3–5 floors and no flats."""
    d = generate_district(2, 1, 40, 50, exclusive_share=1.0)
    counts = [g.household_count for g in d.iter_grids()]
    assert min(counts) == 0 and max(counts) == 40
    floors = set()
    for grid in d.iter_grids():
        if grid.household_count:
            continue
        (only,) = generator.neighbourhoods(grid)
        (office,) = only.buildings
        assert office.households == 0 and office.units == 1
        floors.add(office.floors)
    assert floors == {3, 4, 5}


def test_households_average_more_than_one_person_from_a_mean_above_one():
    d = generate_district(5, 1, 1, 1, households_per_grid=300, people_per_household=1.5)
    sizes = [h.size for h in generator.iter_households(next(d.iter_grids()))]
    assert 1.35 < sum(sizes) / len(sizes) < 1.65
    assert max(sizes) >= 3


def test_names_beyond_the_word_lists_get_a_numeral():
    from services.registry.domain import names

    d = generate_district(1, len(names.TOWN_STEMS) + 2, 1, 1, households_per_grid=1)
    first_round = len(names.TOWN_STEMS)
    stem = names.TOWN_STEMS[0]
    assert d.towns[first_round].name in (f"{stem}2街道", f"{stem}2镇")
    assert len({t.name for t in d.towns}) == len(d.towns)


def test_tiles_are_square_on_the_ground_at_any_latitude():
    """split_bbox measures width at the box's middle latitude: at 61° N a degree of
    longitude is half as long, so a 1°×2° box in four is four rows of one."""
    tiles = generator.split_bbox((0.0, 60.0, 1.0, 62.0), 4)
    assert len({(t[1], t[3]) for t in tiles}) == 4


def test_birth_dates_keep_each_grids_phase_when_grids_share_sequence_numbers():
    """Over 499 grids, grids share ID sequence numbers and are kept apart by the birth
    date's residue modulo the stride: a grid's residents are all born on its phase."""
    d = generate_district(1, 2, 50, 10, households_per_grid=20)
    stride = d.params.date_stride
    assert stride == 3
    grids = list(d.iter_grids())
    for grid in (grids[0], grids[499], grids[998]):
        phase = grid.ordinal // generator.SEQUENCE_CLASSES
        born = {r.birth_date.toordinal() % stride for r in generator.iter_residents(grid)}
        assert born == {phase % stride}, grid.ordinal
