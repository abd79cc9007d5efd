"""Division codes as versioned data: the rules of renaming and retiring (issue 11, M1)."""

from datetime import date

import pytest

from services.registry.domain.divisions import (
    DivisionRefused,
    NameVersion,
    check_rename,
    check_retire,
    name_on,
    parent_open_on,
    still_valid,
)

D = date.fromisoformat
HISTORY = [NameVersion(1, "枫桥镇", D("2020-01-01"), D("2026-07-01")),
           NameVersion(2, "枫桥街道", D("2026-07-01"))]


@pytest.mark.parametrize("day, name", [
    ("2019-06-30", "枫桥镇"),  # before the first record: its first known name
    ("2020-01-01", "枫桥镇"),
    ("2026-06-30", "枫桥镇"),  # the last day of the old name
    ("2026-07-01", "枫桥街道"),  # valid_to is the first day no longer valid
    ("2040-01-01", "枫桥街道"),
])
def test_the_name_valid_on_a_day(day, name):
    assert name_on(HISTORY, D(day)) == name
    assert name_on(list(reversed(HISTORY)), D(day)) == name  # order does not matter


def test_no_versions_no_name():
    assert name_on([], D("2026-01-01")) is None


def test_a_retired_division_keeps_its_last_name_for_old_documents():
    retired = [NameVersion(1, "和平社区", D("2020-01-01"), D("2027-01-01"))]
    assert name_on(retired, D("2030-01-01")) == "和平社区"


def test_a_renaming_goes_forward_only():
    check_rename(HISTORY, None, "枫桥新区", D("2027-01-01"))
    with pytest.raises(DivisionRefused) as err:
        check_rename(HISTORY, None, "枫桥新区", D("2026-07-01"))
    assert (err.value.code, err.value.field, err.value.conflict) == (
        "rename_out_of_order", "valid_from", False)
    assert "2026-07-01" in err.value.message


def test_a_renaming_to_the_same_name_records_nothing():
    with pytest.raises(DivisionRefused) as err:
        check_rename(HISTORY, None, " 枫桥街道 ", D("2027-01-01"))
    assert (err.value.code, err.value.field) == ("name_unchanged", "name")


def test_a_retired_division_is_not_renamed():
    with pytest.raises(DivisionRefused) as err:
        check_rename(HISTORY, D("2027-01-01"), "枫桥新区", D("2027-06-01"))
    assert err.value.conflict and err.value.code == "division_retired"


def test_retiring_after_it_began_and_only_once():
    check_retire(D("2020-01-01"), None, HISTORY, D("2026-07-02"))
    with pytest.raises(DivisionRefused) as before:
        check_retire(D("2020-01-01"), None, HISTORY, D("2026-07-01"))  # current name's day
    assert (before.value.code, before.value.field) == ("retire_before_start", "valid_to")
    with pytest.raises(DivisionRefused) as twice:
        check_retire(D("2020-01-01"), D("2027-01-01"), HISTORY, D("2028-01-01"))
    assert twice.value.conflict and twice.value.code == "division_retired"
    with pytest.raises(DivisionRefused):
        check_retire(D("2020-01-01"), None, [], D("2020-01-01"))  # not on its first day


def test_children_still_valid_block_a_retirement():
    children = [("320505001003", None), ("320505001001", D("2027-01-01")),
                ("320505001002", D("2027-03-01"))]
    assert still_valid(children, D("2027-01-01")) == ["320505001002", "320505001003"]
    assert still_valid(children, D("2027-03-01")) == ["320505001003"]
    assert still_valid([("320505001001", D("2026-12-31"))], D("2027-01-01")) == []


def test_nothing_new_starts_under_a_retired_parent():
    assert parent_open_on(None, D("2030-01-01"))
    assert parent_open_on(D("2027-01-01"), D("2026-12-31"))
    assert not parent_open_on(D("2027-01-01"), D("2027-01-01"))


def test_the_refusals_say_what_and_why():
    """The message a district admin reads names the day and the name at stake (and is the
    exception's text); a refusal carries no detail unless given one."""
    with pytest.raises(DivisionRefused) as retired:
        check_rename(HISTORY, D("2027-01-01"), "枫桥新区", D("2027-06-01"))
    assert retired.value.message == (
        "it was retired on 2027-01-01; a retired division keeps its last name")
    assert str(retired.value) == retired.value.message and retired.value.detail == []
    with pytest.raises(DivisionRefused) as same:
        check_rename(HISTORY, None, "枫桥街道", D("2027-01-01"))
    assert same.value.message == "the name is already '枫桥街道'"
    with pytest.raises(DivisionRefused) as twice:
        check_retire(D("2020-01-01"), D("2027-01-01"), HISTORY, D("2028-01-01"))
    assert twice.value.message == "it was already retired on 2027-01-01"
    with pytest.raises(DivisionRefused) as early:
        check_retire(D("2020-01-01"), None, HISTORY, D("2026-07-01"))
    assert early.value.message == ("valid_to must be after 2026-07-01, when it (or its "
                                   "current name) began")
    listed = DivisionRefused("x", code="division_has_children", detail=["320505001001"])
    assert listed.detail == ["320505001001"]


def test_a_division_without_name_versions_may_be_renamed():
    """Rows loaded in bulk (the demo) have no versions yet: their first renaming is free."""
    check_rename([], None, "枫桥新区", D("2027-01-01"))
