"""The bulk import's compiled ID-number check gives the answers and errors of the one
definition (``identity.normalise_id_number``) and agrees with stdnum on every accepted
number; the phone shortcut gives ``normalise_phone``'s answers."""

import random
from datetime import date

import pytest
from stdnum.cn import ric

from services.registry.domain import identity
from services.registry.domain.identity import IdentityError

TODAY = date(2024, 6, 30)


def _valid(rng: random.Random) -> str:
    address = rng.choice(["110105", "320505", "440305", "650102", "990101", "000000"])
    born = date(rng.randint(1880, 2025), rng.randint(1, 12), rng.randint(1, 28))
    first17 = f"{address}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + identity.CHECK_CHARS[sum(
        int(a) * w for a, w in zip(first17, identity.WEIGHTS, strict=True)) % 11]


def _mutate(rng: random.Random, number: str) -> str:
    kind = rng.randrange(9)
    i = rng.randrange(len(number))
    if kind == 0:
        return number[:i] + str((int(number[i]) + 1) % 10 if number[i].isdigit() else 0) \
            + number[i + 1:]
    if kind == 1:
        return number[:i] + number[i + 1:]
    if kind == 2:
        return number.lower()
    if kind == 3:
        return " " + number[:9] + " " + number[9:]
    if kind == 4:
        return number[:10] + "13" + number[12:]  # month 13
    if kind == 5:
        return number[:12] + "31" + number[14:]  # 31 February and friends
    if kind == 6:
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)  # full-width
    if kind == 7:
        return number[:-1] + rng.choice("X0Yx")
    return number[:15]  # a legacy-length prefix


def _outcome(fn, value):
    try:
        return fn(value)
    except IdentityError as exc:
        return ("error", exc.code, exc.message)


def test_compiled_check_gives_the_same_answers_and_errors():
    rng = random.Random(11643)
    checker = identity.IdNumberChecker(TODAY)
    values = []
    for _ in range(4000):
        number = _valid(rng)
        values += [number, _mutate(rng, number)]
    values += ["", "X" * 18, "11010519491231002x", "110105194912310", None, 12345]
    accepted = 0
    for value in values:
        slow = _outcome(lambda v: identity.normalise_id_number(v, TODAY), value)
        fast = _outcome(checker.check, value)
        if isinstance(slow, tuple):
            assert fast == slow, value
            continue
        accepted += 1
        assert fast == (slow, identity.sex(slow), identity.birth_date(slow).year), value
        assert ric.calc_check_digit(slow) == slow[17], value
    assert accepted > 3000  # most generated numbers are valid; the mutations mostly not


def test_the_checker_bounds_birth_dates_by_its_own_day():
    number = "110105" + "20240701" + "123"
    number += identity.check_character(number)
    with pytest.raises(IdentityError) as err:
        identity.IdNumberChecker(TODAY).check(number)
    assert err.value.code == "birth_date"
    assert identity.IdNumberChecker(date(2024, 7, 1)).check(number)[0] == number


@pytest.mark.parametrize("value", ["13800000001", "19912345678", "12800000001", "1380000000",
                                   "138 0000 0001", "+8613800000001", "010-12345678",
                                   "1380000000a", "１３８００００００01", "0571-1234567"])
def test_phone_shortcut_agrees(value):
    assert _outcome(identity.normalise_phone_fast, value) == \
        _outcome(identity.normalise_phone, value)
