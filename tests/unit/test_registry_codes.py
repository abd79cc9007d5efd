"""Administrative and grid codes (P4.1: grid codes issued centrally, unique, nested)."""

import pytest

from services.registry.domain import codes
from services.registry.domain.codes import CodeError, TownKind


@pytest.mark.parametrize("good", ["320505", " 320505 ", "110105", "441900"])
def test_district_code_accepts_six_digits_with_known_province(good):
    assert codes.validate_district_code(good) == good.strip()


@pytest.mark.parametrize("bad, fragment", [
    ("32050", "exactly 6 digits"),
    ("3205050", "exactly 6 digits"),
    ("32o505", "exactly 6 digits"),
    ("３２０５０５", "exactly 6 digits"),  # full-width digits are not ASCII digits
    ("990505", "province"),
    ("000000", "province"),
    ("720101", "province"),  # not in GB/T 2260's list (71 Taiwan, 81, 82 are)
    ("320005", "prefecture part 00"),  # the province itself
    ("320500", "county part 00"),  # the prefecture itself (Suzhou), not a county
    ("110000", "prefecture part 00"),
])
def test_district_code_rejections_say_why(bad, fragment):
    with pytest.raises(CodeError) as err:
        codes.validate_district_code(bad, field="district_code")
    assert fragment in str(err.value)
    assert err.value.field == "district_code"


@pytest.mark.parametrize("prefix", sorted(codes.PROVINCE_PREFIXES))
def test_every_gbt2260_province_is_accepted(prefix):
    assert codes.validate_district_code(prefix + "0101") == prefix + "0101"


def test_the_province_list_is_gbt2260s():
    """11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81, 82: 34 province-level units."""
    ranges = [(11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71),
              (81, 82)]
    expected = {f"{n}" for lo, hi in ranges for n in range(lo, hi + 1)}
    assert codes.PROVINCE_PREFIXES == expected and len(expected) == 34


@pytest.mark.parametrize("city", sorted(codes.PREFECTURES_WITHOUT_COUNTIES))
def test_prefecture_cities_without_counties_hold_towns_directly(city):
    """东莞 441900, 中山 442000, 儋州 460400: towns sit under the prefecture's code."""
    assert codes.validate_town_code(city + "003") == city + "003"


def test_town_and_community_parts_run_001_to_999():
    assert codes.validate_town_code("320505999") == "320505999"
    assert codes.validate_community_code("320505001999") == "320505001999"
    with pytest.raises(CodeError, match="county part 00"):
        codes.validate_town_code("320500001")
    with pytest.raises(CodeError, match="province"):
        codes.validate_community_code("990505001001", field="community_code")


@pytest.mark.parametrize("level, code", [("district", "320505"), ("town", "320505001"),
                                         ("community", "320505001001")])
def test_division_code_by_level(level, code):
    assert codes.validate_division_code(level, code) == code


def test_division_code_by_level_refuses_the_wrong_length_and_level():
    with pytest.raises(CodeError, match="9 digits"):
        codes.validate_division_code("town", "320505001001")
    with pytest.raises(CodeError) as err:
        codes.validate_division_code("grid", "320505001001001")
    assert err.value.field == "level"


def test_a_town_lies_under_its_district_and_a_community_under_its_town():
    codes.validate_under("320505001", "320505", "district_code")
    codes.validate_under("320505001002", "320505001", "town_code")
    codes.validate_under("320505001", None, "district_code")  # implied by the code
    with pytest.raises(CodeError) as err:
        codes.validate_under("320505001", "320506", "district_code")
    assert err.value.field == "district_code"
    assert "does not lie under 320506" in str(err.value)
    with pytest.raises(CodeError, match="320505002"):
        codes.validate_under("320505001002", "320505002", "town_code")


def test_code_error_is_a_value_error_with_default_field():
    with pytest.raises(ValueError) as err:
        codes.validate_district_code(320505)  # type: ignore[arg-type]
    assert err.value.field == "code"


def test_town_code_checks_prefix_and_non_zero_part():
    assert codes.validate_town_code("320505001") == "320505001"
    with pytest.raises(CodeError, match="township part 000"):
        codes.validate_town_code("320505000")
    with pytest.raises(CodeError, match="province"):
        codes.validate_town_code("990505001")
    with pytest.raises(CodeError, match="9 digits"):
        codes.validate_town_code("320505")


def test_community_code():
    assert codes.validate_community_code("320505001002") == "320505001002"
    with pytest.raises(CodeError, match="village part 000"):
        codes.validate_community_code("320505001000")
    with pytest.raises(CodeError, match="12 digits"):
        codes.validate_community_code("3205050010021")


@pytest.mark.parametrize("code, kind", [
    ("320505001", TownKind.STREET),
    ("320505099", TownKind.STREET),
    ("320505100", TownKind.TOWN),
    ("320505199", TownKind.TOWN),
    ("320505200", TownKind.TOWNSHIP),
    ("320505399", TownKind.TOWNSHIP),
    ("320505400", TownKind.ZONE),
    ("320505599", TownKind.ZONE),
    ("320505600", TownKind.UNKNOWN),
    ("320505000", TownKind.UNKNOWN),
    ("32050", TownKind.UNKNOWN),  # never a hard failure on heuristics
    ("320505abc", TownKind.UNKNOWN),
])
def test_town_kind_from_code_ranges(code, kind):
    assert codes.town_kind(code) == kind


def test_town_kind_values_are_stable_strings():
    assert codes.town_kind("320505001") == "street"
    assert codes.town_kind("320505150") == "town"


def test_parent_chain_and_levels():
    grid = "320505001002003"
    assert codes.parent_code(grid) == "320505001002"
    assert codes.parent_code("320505001002") == "320505001"
    assert codes.parent_code("320505001") == "320505"
    assert codes.parent_code("320505") is None
    assert [codes.level_of(c) for c in (grid, grid[:12], grid[:9], grid[:6])] == [
        "grid", "community", "town", "district"]
    with pytest.raises(CodeError):
        codes.parent_code("3205050010")
    with pytest.raises(CodeError):
        codes.level_of("12345")


def test_is_within_is_prefix_containment_on_real_levels():
    grid = "320505001002003"
    for scope in ("320505", "320505001", "320505001002", grid):
        assert codes.is_within(grid, scope)
    assert not codes.is_within(grid, "320505002")
    assert not codes.is_within(grid, "320506")
    assert not codes.is_within("320505001", grid)  # a town is not inside its grid
    # malformed scopes never match (they must not widen access)
    assert not codes.is_within(grid, "3205")
    assert not codes.is_within(grid, "")
    assert not codes.is_within(grid, "32050500")


def test_grid_code_layout_constant():
    assert codes.GRID_CODE_LENGTH == 15
    assert codes.MAX_GRID_SEQUENCE == 999


def test_validate_grid_code():
    assert codes.validate_grid_code("320505001002003") == "320505001002003"
    assert codes.grid_sequence("320505001002003") == 3
    with pytest.raises(CodeError, match="sequence starts at 1"):
        codes.validate_grid_code("320505001002000")
    with pytest.raises(CodeError, match="15 digits") as err:
        codes.validate_grid_code("32050500100200")
    assert err.value.field == "grid_code"
    with pytest.raises(CodeError, match="village part 000"):
        codes.validate_grid_code("320505001000001")


def test_next_grid_code_first_and_lowest_free():
    community = "320505001002"
    assert codes.next_grid_code(community, []) == "320505001002001"
    used = ["320505001002001", "320505001002002", "320505001002004"]
    assert codes.next_grid_code(community, used) == "320505001002003"


def test_next_grid_code_never_reuses_retired_codes():
    # the caller passes every code ever issued, retired ones included: 001 was retired
    # but still listed, so it is not handed out again
    community = "320505001002"
    ever_issued = iter(["320505001002001", "320505001002002"])  # any iterable works
    assert codes.next_grid_code(community, ever_issued) == "320505001002003"


def test_next_grid_code_ignores_other_communities_and_junk():
    used = ["320505001003001", "320505001002001", "garbage", "32050500100200x"]
    assert codes.next_grid_code("320505001002", used) == "320505001002002"


def test_next_grid_code_exhausted():
    community = "320505001002"
    used = [f"{community}{n:03d}" for n in range(1, 1000)]
    with pytest.raises(CodeError, match="used all 999") as err:
        codes.next_grid_code(community, used)
    assert err.value.field == "community_code"
    assert codes.next_grid_code(community, used[:-1]) == f"{community}999"


def test_next_grid_code_validates_the_community():
    with pytest.raises(CodeError):
        codes.next_grid_code("32050500100", [])


def test_make_grid_code_bounds():
    assert codes.make_grid_code("320505001002", 7) == "320505001002007"
    for bad in (0, 1000):
        with pytest.raises(CodeError):
            codes.make_grid_code("320505001002", bad)


# --- a refused code is reported under the input it came from (422 answers) ----------------

@pytest.mark.parametrize("call, field, message", [
    (lambda: codes.validate_district_code(320505), "code",
     "a district code must be a string of 6 digits"),
    (lambda: codes.validate_town_code(320505001), "code",
     "a town code must be a string of 9 digits"),
    (lambda: codes.validate_town_code("32050500", "town"), "town",
     "a town code must be exactly 9 digits, got '32050500'"),
    (lambda: codes.validate_town_code("990505001", "town_code"), "town_code",
     "district code 990505: unknown province prefix 99"),
    (lambda: codes.validate_town_code("320505000", "town_code"), "town_code",
     "town code 320505000: township part 000 is the district itself"),
    (lambda: codes.validate_community_code(320505001001), "code",
     "a community code must be a string of 12 digits"),
    (lambda: codes.validate_community_code("32050500100", "community"), "community",
     "a community code must be exactly 12 digits, got '32050500100'"),
    (lambda: codes.validate_community_code("320505000001", "community_code"),
     "community_code", "town code 320505000: township part 000 is the district itself"),
    (lambda: codes.validate_community_code("320505001000", "c"), "c",
     "community code 320505001000: village part 000 is the town itself"),
    (lambda: codes.validate_grid_code(1), "grid_code",
     "a grid code must be a string of 15 digits"),
    (lambda: codes.validate_grid_code("320505001000001", "g"), "g",
     "community code 320505001000: village part 000 is the town itself"),
    (lambda: codes.validate_grid_code("320505001001000", "g"), "g",
     "grid code 320505001001000: sequence starts at 1"),
    (lambda: codes.level_of("1234"), "code",
     "'1234' is not a district, town, community or grid code"),
    (lambda: codes.parent_code("1234"), "code", "'1234' is not a town, community or grid code"),
    (lambda: codes.make_grid_code("320505001001", 0), "sequence",
     "grid sequence must be 1–999, got 0"),
    (lambda: codes.next_grid_code("32050500100", []), "community_code",
     "a community code must be exactly 12 digits, got '32050500100'"),
])
def test_a_refused_code_names_its_field_and_what_is_wrong(call, field, message):
    with pytest.raises(CodeError) as info:
        call()
    assert (info.value.field, info.value.message, str(info.value)) == (field, message, message)
