"""``registry.staff.changed`` names a department officer's scope by the department's code,
which the register accepts with digits (``fire2``, ``district_110``): the message must too,
or the registry cannot announce the officers of such a department (a demo district loaded
beside one failed with ``invalid_payload``)."""

from __future__ import annotations

import pytest

from gridgov_common.contract import ContractError, load_sample, make_envelope

CODE_48 = "d" * 48


def officer(scope: str) -> dict:
    payload = load_sample("registry.staff.changed", 1)["payload"]
    return {**payload, "role": "department_officer", "scope": scope, "town_code": None,
            "community_code": None, "grid_codes": []}


@pytest.mark.parametrize("scope", ["department:fire", "department:fire2",
                                   "department:district_110_center", f"department:{CODE_48}"])
def test_a_department_code_the_register_accepts_is_a_scope(scope):
    envelope = make_envelope("registry.staff.changed", officer(scope), "registry")
    assert envelope["payload"]["scope"] == scope


@pytest.mark.parametrize("scope", ["department:Fire", "department:_fire", "department:fire_",
                                   "department:2fire", f"department:{CODE_48}d",
                                   "department:", "bureau:fire"])
def test_anything_else_is_refused(scope):
    with pytest.raises(ContractError) as caught:
        make_envelope("registry.staff.changed", officer(scope), "registry")
    assert "scope" in caught.value.fields
