"""Citizen ID numbers (GB 11643-1999) and phone numbers."""

import random
from datetime import date

import pytest
from stdnum.cn import ric

from services.registry.domain import identity
from services.registry.domain.identity import IdentityError

EXAMPLE = "11010519491231002X"
TODAY = date(2024, 6, 30)


def _make(address: str, born: date, seq: int) -> str:
    first17 = f"{address}{born:%Y%m%d}{seq:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(a) * w for a, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def _code(value, **kwargs) -> str:
    with pytest.raises(IdentityError) as err:
        identity.normalise_id_number(value, TODAY, **kwargs)
    return err.value.code


def test_standard_example():
    assert identity.check_character(EXAMPLE[:17]) == "X"
    assert identity.normalise_id_number(EXAMPLE, TODAY) == EXAMPLE
    assert identity.birth_date(EXAMPLE) == date(1949, 12, 31)
    assert identity.sex(EXAMPLE) == "F"  # sequence 002 is even


def test_lowercase_x_spaces_and_full_width_are_normalised():
    assert identity.normalise_id_number("11010519491231002x", TODAY) == EXAMPLE
    assert identity.normalise_id_number(" 110105 19491231 002x ", TODAY) == EXAMPLE
    full_width = "１１０１０５１９４９１２３１００２Ｘ"
    assert identity.normalise_id_number(full_width, TODAY) == EXAMPLE


def test_legacy_fifteen_digits_convert():
    assert identity.convert_legacy("110105491231002") == EXAMPLE
    assert identity.normalise_id_number("110105491231002", TODAY) == EXAMPLE
    assert identity.birth_date("110105491231002") == date(1949, 12, 31)
    assert identity.sex("110105491231001") == "M"


def test_generated_numbers_validate_and_agree_with_stdnum():
    rng = random.Random(11643)
    for _ in range(2000):
        born = date.fromordinal(rng.randint(date(1920, 1, 1).toordinal(), TODAY.toordinal()))
        seq = rng.randrange(1000)
        number = identity.make_id_number("110105", born, seq)
        assert number == _make("110105", born, seq)
        assert identity.normalise_id_number(number, TODAY) == number
        assert ric.is_valid(number)  # 110105 has existed since before 1920
        assert identity.birth_date(number) == born
        assert identity.sex(number) == ("M" if seq % 2 else "F")


def test_every_wrong_check_character_is_caught():
    for wrong in "0123456789X":
        if wrong == EXAMPLE[-1]:
            continue
        assert _code(EXAMPLE[:17] + wrong) == "check_digit"


def test_single_digit_typo_is_caught():
    typo = EXAMPLE[:5] + "6" + EXAMPLE[6:]
    assert _code(typo) == "check_digit"


@pytest.mark.parametrize("value, code", [
    ("1101051949123100", "length"),
    ("11010519491231002X1", "length"),
    ("", "length"),
    ("1101051949123100X2", "characters"),  # X only as the last character
    ("11010519491231002Y", "characters"),
    ("11010519491231-02X", "characters"),
    ("99010519491231002X", "address_code"),  # no province 99
    (None, "type"),
])
def test_structure_errors_name_the_part(value, code):
    assert _code(value) == code


@pytest.mark.parametrize("birth", ["20000230", "19491331", "19490001", "20230229"])
def test_birth_date_must_be_real(birth):
    first17 = "110105" + birth + "002"
    assert _code(first17 + identity.check_character(first17)) == "birth_date"


def test_birth_date_not_in_the_future_relative_to_today_parameter():
    number = _make("110105", date(2024, 7, 1), 1)
    with pytest.raises(IdentityError, match="future") as err:
        identity.normalise_id_number(number, today=date(2024, 6, 30))
    assert err.value.code == "birth_date"
    assert identity.normalise_id_number(number, today=date(2024, 7, 1)) == number


def test_implausibly_early_birth_date():
    assert _code(_make("110105", date(1850, 1, 1), 1)) == "birth_date"


def test_abolished_or_later_address_codes_pass_by_default_but_not_strictly():
    # 320505 (虎丘区) exists since 2000 in stdnum's table; a person born 1960 may still
    # hold it (address code of first issuance), so only strict mode objects
    number = _make("320505", date(1960, 5, 1), 11)
    assert identity.normalise_id_number(number, TODAY) == number
    assert _code(number, strict_address=True) == "address_code"
    modern = _make("320505", date(2005, 5, 1), 11)
    assert identity.normalise_id_number(modern, TODAY, strict_address=True) == modern


def test_error_messages_are_plain_english():
    with pytest.raises(IdentityError) as err:
        identity.normalise_id_number(EXAMPLE[:17] + "1", TODAY)
    assert "check digit" in str(err.value)
    assert err.value.message == str(err.value)


def test_is_valid_id_number():
    assert identity.is_valid_id_number(EXAMPLE, TODAY)
    assert not identity.is_valid_id_number(EXAMPLE[:17] + "1", TODAY)


def test_make_id_number_guards():
    with pytest.raises(IdentityError):
        identity.make_id_number("110105", date(2000, 1, 1), 1000)
    with pytest.raises(IdentityError):
        identity.make_id_number("1101", date(2000, 1, 1), 1)


def test_convert_legacy_rejects_non_digits():
    with pytest.raises(IdentityError):
        identity.convert_legacy("11010549123100X")


@pytest.mark.parametrize("raw, expected", [
    ("13812341234", "13812341234"),
    ("138 1234 1234", "13812341234"),
    ("138-1234-1234", "13812341234"),
    ("+86 138 1234 1234", "13812341234"),
    ("+8613812341234", "13812341234"),
    ("8613812341234", "13812341234"),
    ("0086 13812341234", "13812341234"),
    ("１３８１２３４１２３４", "13812341234"),
    ("19912341234", "19912341234"),
    ("010-12345678", "01012345678"),
    ("(010) 1234 5678", "01012345678"),
    ("021-87654321", "02187654321"),
    ("0571-1234567", "05711234567"),
    ("0571-12345678", "057112345678"),
    ("+86 571 1234567", "05711234567"),
    ("+86-10-12345678", "01012345678"),
])
def test_normalise_phone_accepts(raw, expected):
    assert identity.normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", [
    "12812341234",  # 12x is not a mobile prefix
    "1381234123",  # 10 digits
    "138123412345",  # 12 digits
    "12345678",  # landline without area code
    "010-1234567",  # 3-digit area code needs 8 digits
    "0571-123456",  # too short
    "0571-0234567",  # local numbers do not start with 0
    "110",
    "abc",
    "",
    "+1 415 555 0100",
    "138-1234-123x",
])
def test_normalise_phone_rejects(raw):
    with pytest.raises(IdentityError) as err:
        identity.normalise_phone(raw)
    assert err.value.code == "phone"


def test_normalise_phone_type_error():
    with pytest.raises(IdentityError) as err:
        identity.normalise_phone(13812341234)  # type: ignore[arg-type]
    assert err.value.code == "type"


def test_phone_kind_and_area_code():
    assert identity.phone_kind("13812341234") == "mobile"
    assert identity.phone_kind("05711234567") == "landline"
    assert identity.area_code_length("01012345678") == 3
    assert identity.area_code_length("02187654321") == 3
    assert identity.area_code_length("05711234567") == 4


# --- which part of an input is wrong (the API's error code) --------------------------------

@pytest.mark.parametrize("call, code", [
    (lambda: identity.check_character("1101051949123100"), "length"),
    (lambda: identity.convert_legacy("11010549123100A"), "characters"),
    (lambda: identity.make_id_number("110105", date(1949, 12, 31), 1000), "sequence"),
    (lambda: identity.make_id_number("110105", date(1949, 12, 31), -1), "sequence"),
    (lambda: identity.make_id_number("11010", date(1949, 12, 31), 1), "address_code"),
    (lambda: identity.normalise_id_number(110105194912310021, TODAY), "type"),
    (lambda: identity.normalise_phone(13812345678), "type"),
])
def test_a_refusal_says_which_part_is_wrong(call, code):
    with pytest.raises(IdentityError) as info:
        call()
    assert info.value.code == code
    assert info.value.message == str(info.value) and info.value.message


def test_the_last_sequence_and_the_earliest_birth_year_are_valid():
    assert identity.make_id_number("110105", date(1949, 12, 31), 999)[14:17] == "999"
    earliest = identity.make_id_number("110105", date(1890, 1, 1), 1)
    assert identity.normalise_id_number(earliest, TODAY) == earliest


@pytest.mark.parametrize("raw, normalised", [
    ("+86 0571 1234567", "05711234567"),  # the trunk 0 written anyway
    ("0086 571 1234567", "05711234567"),  # dialled from abroad without the trunk 0
    ("0086-10-12345678", "01012345678"),
    ("86 138 1234 5678", "13812345678"),
])
def test_international_prefixes(raw, normalised):
    assert identity.normalise_phone(raw) == normalised


@pytest.mark.parametrize("raw", [
    "571-1234567",  # a landline without its trunk 0 is only understood after +86
    "0113812345678",  # a mobile number behind a stray prefix
])
def test_ambiguous_phone_numbers_are_refused(raw):
    with pytest.raises(IdentityError) as info:
        identity.normalise_phone(raw)
    assert info.value.code == "phone"


def test_validity_is_judged_on_the_day_given():
    born_later = identity.make_id_number("110105", date(2025, 1, 1), 1)
    assert not identity.is_valid_id_number(born_later, date(2024, 6, 30))
    assert identity.is_valid_id_number(born_later, date(2025, 1, 2))
