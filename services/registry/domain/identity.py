"""Citizen ID numbers (GB 11643-1999) and Chinese phone numbers: validation and normal form.

Every ID number and phone is normalised before it is encrypted or blind-indexed, so the
same person always yields the same blind index (P3.1: one person, one registration) and a
typo is caught at the door rather than stored (P2.3: base data accurate).

Our own checks come first so the error names the wrong part (length, characters, birth
date, check digit); python-stdnum's ``stdnum.cn.ric`` then cross-checks the check digit
and birth date, and — only on request — the address code against its table.  That table
dates codes by year, and an ID keeps the address code of the county where it was first
issued (abolished codes stay valid), so an address code unknown for the birth year is
not an error by default.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from operator import mul

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from gridgov_common.contract.messages import ID_CHECK_CHARS, ID_CHECK_WEIGHTS
from services.registry.domain.codes import PROVINCE_PREFIXES

# GB 11643-1999 weights and check characters: one definition, shared with the bus contract
WEIGHTS, CHECK_CHARS = ID_CHECK_WEIGHTS, ID_CHECK_CHARS
ID_LENGTH = 18
LEGACY_ID_LENGTH = 15
# A birth date before this year is a typo, not a living resident.
MIN_BIRTH_YEAR = 1890
MALE, FEMALE = "M", "F"

_DIGITS_17 = re.compile(r"[0-9]{17}")
_DIGITS_15 = re.compile(r"[0-9]{15}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# 3-digit area codes (010 Beijing, 02x big cities) take an 8-digit local number; 4-digit
# area codes take 7 or 8 digits.  Local numbers never start with 0 (the trunk prefix).
_LANDLINE = re.compile(r"(?:0(?:10|2[0-9])[1-9][0-9]{7}|0[3-9][0-9]{2}[1-9][0-9]{6,7})")
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）.]")


class IdentityError(ValueError):
    """An ID number or phone is wrong; ``code`` says which part, for API error details."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _clean(value: object, what: str) -> str:
    """NFKC (full-width digits from Chinese input methods → ASCII), no spaces, upper case."""
    if not isinstance(value, str):
        raise IdentityError("type", f"{what} must be a string")
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    return "".join(value.split()).upper()


def check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits: "10X98765432"[Σ aᵢwᵢ mod 11]."""
    if len(first17) != 17:
        raise IdentityError("length", "the check character needs exactly 17 digits")
    return CHECK_CHARS[sum(map(mul, map(int, first17), WEIGHTS)) % 11]


def make_id_number(address_code: str, born: date, sequence: int) -> str:
    """Compose a valid 18-digit ID (used by the data generator and tests).

    ``sequence`` is 0–999; odd means male (GB 11643).
    """
    if not 0 <= sequence <= 999:
        raise IdentityError("sequence", f"sequence must be 0–999, got {sequence}")
    first17 = f"{address_code}{born:%Y%m%d}{sequence:03d}"
    if not _DIGITS_17.fullmatch(first17):
        raise IdentityError("address_code", f"address code must be 6 digits: {address_code!r}")
    return first17 + check_character(first17)


def convert_legacy(id15: str) -> str:
    """Convert a 15-digit first-generation ID (YYMMDD, no check) to 18 digits.

    The century is always 19: 15-digit cards were issued 1984–2004 to people born in
    the 1900s.
    """
    if not _DIGITS_15.fullmatch(id15):
        raise IdentityError("characters", "a 15-digit ID number has digits only")
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + check_character(first17)


def _parse_birth(number: str) -> date:
    """The birth date of a normalised 18-digit number, or IdentityError('birth_date')."""
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError("birth_date",
                            f"ID number birth date {number[6:14]} is not a real date") from None


def _check_structure(number: str, today: date) -> None:
    """Our own checks, each naming the part that is wrong."""
    if len(number) != ID_LENGTH:
        raise IdentityError("length", f"an ID number has 18 (or legacy 15) characters, "
                                      f"got {len(number)}")
    if not _DIGITS_17.fullmatch(number[:17]) or number[17] not in "0123456789X":
        raise IdentityError("characters",
                            "an ID number is 17 digits followed by a digit or X")
    if number[:2] not in PROVINCE_PREFIXES:
        raise IdentityError("address_code",
                            f"ID number address code {number[:6]} has no such province")
    born = _parse_birth(number)
    if born > today:
        raise IdentityError("birth_date", f"ID number birth date {born} is in the future")
    if born.year < MIN_BIRTH_YEAR:
        raise IdentityError("birth_date", f"ID number birth date {born} is implausibly early")
    if number[17] != check_character(number[:17]):
        raise IdentityError("check_digit", "ID number check digit does not match "
                                           "(a digit is probably mistyped)")


def _cross_check(number: str, strict_address: bool) -> None:
    """Second opinion from python-stdnum: the same check digit (computed its own way, cheap)
    and, on request, the address code (a table lookup, slow: ~25 µs).

    The check digit was already verified, so a disagreement is a bug on one side and is
    reported rather than hidden.  stdnum's birth-date check repeats ours exactly and is
    skipped to keep bulk imports fast.
    """
    if ric.calc_check_digit(number) != number[17]:
        raise IdentityError("check_digit", "ID number check digit rejected by stdnum")
    if strict_address:
        try:
            ric.get_birth_place(number)
        except InvalidComponent:
            raise IdentityError(
                "address_code",
                f"ID number address code {number[:6]} was not in use in {number[6:10]}",
            ) from None


def normalise_id_number(value: str, today: date | None = None, *,
                        strict_address: bool = False) -> str:
    """Return the canonical 18-character ID (upper-case X), converting legacy 15-digit ones.

    Raises ``IdentityError`` whose ``code`` is ``type``, ``length``, ``characters``,
    ``address_code``, ``birth_date`` or ``check_digit``.  ``today`` bounds the birth date
    (tests pass a fixed day); ``strict_address`` also asks stdnum whether the address code
    existed in the birth year (off by default: see the module docstring).
    """
    # P3.1: one canonical form per person, so the blind index finds duplicates
    number = _clean(value, "an ID number")
    if len(number) == LEGACY_ID_LENGTH:
        number = convert_legacy(number)
    _check_structure(number, today or date.today())
    _cross_check(number, strict_address)
    return number


def _real_day(year: int, month_day: str) -> bool:
    try:
        date(year, int(month_day[:2]), int(month_day[2:]))
    except ValueError:
        return False
    return True


class IdNumberChecker:
    """``normalise_id_number`` compiled once for a bulk import: the same answers and the
    same errors, about five times faster per number.

    A number already in canonical form (18 ASCII characters, 17 digits and a digit or X)
    is checked with per-part tables built as the import goes: the province of each
    address code, whether each birth date is real, not in the future and not before
    ``MIN_BIRTH_YEAR`` (a district's residents share a few tens of thousands of birth
    dates), and the weighted sum of each part of the check digit.  Anything else, and any
    number these checks refuse, goes through ``normalise_id_number`` itself, so every
    error is raised by the one definition with its own code and message.  stdnum's second
    opinion on the check digit (``_cross_check``) is the same arithmetic and is left out
    here; ``tests/unit/test_identity_checker.py`` pins the two paths to the same answers.
    """

    __slots__ = ("today", "_today_text", "_address", "_birth", "_year", "_month_day",
                 "_sequence")

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date.today()
        self._today_text = f"{self.today:%Y%m%d}"
        self._address: dict[str, int | None] = {}  # address code → partial sum, None: bad
        self._birth: dict[str, tuple[int, int] | None] = {}  # YYYYMMDD → (sum, year)
        self._year: dict[str, int] = {}  # YYYY → partial sum
        self._month_day: dict[str, tuple[int, bool, bool]] = {}  # MMDD → sum, real in a
        self._sequence: dict[str, int] = {}                      # common / a leap year

    def _address_sum(self, code: str) -> int | None:
        if code[:2] not in PROVINCE_PREFIXES:
            total = None
        else:
            total = sum(map(mul, map(int, code), WEIGHTS[:6]))
        self._address[code] = total
        return total

    def _birth_sum(self, text: str) -> tuple[int, int] | None:
        """(partial sum, year) of a birth date that is real, not after ``today`` and not
        before ``MIN_BIRTH_YEAR``; None otherwise.  Built from per-year and per-day parts:
        a district's residents have tens of thousands of birth dates but a few hundred
        years and days."""
        year_text, month_day = text[:4], text[4:]
        year_sum = self._year.get(year_text)
        if year_sum is None:
            year_sum = self._year[year_text] = sum(map(mul, map(int, year_text), WEIGHTS[6:10]))
        day = self._month_day.get(month_day)
        if day is None:
            day = self._month_day[month_day] = (
                sum(map(mul, map(int, month_day), WEIGHTS[10:14])),
                _real_day(2001, month_day), _real_day(2000, month_day))
        year = int(year_text)
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        entry = None
        if (day[2] if leap else day[1]) and year >= MIN_BIRTH_YEAR and text <= self._today_text:
            entry = (year_sum + day[0], year)
        self._birth[text] = entry
        return entry

    def check(self, value: object) -> tuple[str, str, int]:
        """(canonical number, sex, birth year), or ``IdentityError`` as
        ``normalise_id_number(value, today)`` raises it."""
        if (type(value) is str and len(value) == ID_LENGTH and value.isascii()
                and value[:17].isdigit()):
            address = self._address.get(value[:6], -1)
            if address == -1:
                address = self._address_sum(value[:6])
            birth = self._birth.get(value[6:14], 0)
            if birth == 0:
                birth = self._birth_sum(value[6:14])
            if address is not None and birth is not None:
                sequence = self._sequence.get(value[14:17])
                if sequence is None:
                    sequence = self._sequence[value[14:17]] = sum(
                        map(mul, map(int, value[14:17]), WEIGHTS[14:17]))
                last = value[17]
                if last == "x":
                    last, value = "X", value[:17] + "X"
                if CHECK_CHARS[(address + birth[0] + sequence) % 11] == last:
                    return value, MALE if value[16] in "13579" else FEMALE, birth[1]
        number = normalise_id_number(value, self.today)  # raises the one error
        return number, sex(number), birth_date(number).year


def is_valid_id_number(value: str, today: date | None = None) -> bool:
    """True when ``normalise_id_number`` would accept ``value``."""
    try:
        normalise_id_number(value, today)
    except IdentityError:
        return False
    return True


def _canonical(id_number: str) -> str:
    """Fast path for already-normalised numbers; anything else goes through validation."""
    if len(id_number) == ID_LENGTH and id_number[:17].isdigit():
        return id_number
    return normalise_id_number(id_number)


def birth_date(id_number: str) -> date:
    """Birth date encoded in an ID number (legacy 15-digit numbers are converted first)."""
    return _parse_birth(_canonical(id_number))


def sex(id_number: str) -> str:
    """'M' or 'F' from the sequence digit (GB 11643: odd = male); one letter as stored."""
    return MALE if int(_canonical(id_number)[16]) % 2 == 1 else FEMALE


def normalise_phone(value: str) -> str:
    """Return a Chinese phone number as digits: 11-digit mobile, or area code + local.

    Accepts ``+86``/``0086``/``86`` prefixes and spaces, dashes, dots and brackets as
    separators; a landline must carry its area code (``010-12345678`` → ``01012345678``,
    ``0571-1234567`` → ``05711234567``).  Raises ``IdentityError('phone', …)`` otherwise.
    """
    raw = _clean(value, "a phone number")
    digits = _PHONE_SEPARATORS.sub("", raw)
    international = False
    if digits.startswith("+86"):
        digits, international = digits[3:], True
    elif digits.startswith("0086"):
        digits, international = digits[4:], True
    elif digits.startswith("86") and len(digits) == 13 and _MOBILE.fullmatch(digits[2:]):
        digits = digits[2:]
    if not digits.isdigit():
        raise IdentityError("phone", f"phone number {value!r} has characters other than digits")
    if _MOBILE.fullmatch(digits):
        return digits
    if international and not digits.startswith("0"):
        digits = "0" + digits  # +86 571 1234567: the trunk 0 is dropped abroad
    if _LANDLINE.fullmatch(digits):
        return digits
    raise IdentityError("phone", f"{value!r} is neither an 11-digit mobile number (1[3-9]…) "
                                 "nor a landline with its area code")


def normalise_phone_fast(value: str) -> str:
    """``normalise_phone`` with a shortcut for what most imports hold, an 11-digit mobile
    number written plainly; anything else goes through ``normalise_phone``."""
    if (len(value) == 11 and value[0] == "1" and value[1] in "3456789" and value.isascii()
            and value.isdigit()):
        return value
    return normalise_phone(value)


def phone_kind(phone: str) -> str:
    """'mobile' or 'landline' for a normalised phone number."""
    return "mobile" if phone.startswith("1") else "landline"


def area_code_length(landline: str) -> int:
    """Length of the area code of a normalised landline: 3 for 010/02x, else 4."""
    return 3 if landline[:2] in ("01", "02") else 4
