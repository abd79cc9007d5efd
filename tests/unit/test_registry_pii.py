"""Personal data protection (P5.4.4; GB/T 35273 §6.3 encryption, §7.2 masking)."""

import base64
import os

import pytest

from gridgov_common.kernel import pii
from gridgov_common.kernel.pii import PiiCipher, PiiError

ENC_KEY = bytes(range(32))
IDX_KEY = bytes(range(32, 64))
ID = "11010519491231002X"


@pytest.fixture
def cipher():
    return PiiCipher(ENC_KEY, IDX_KEY)


def test_round_trip(cipher):
    blob = cipher.encrypt(ID, "id_number")
    assert isinstance(blob, bytes)
    assert cipher.decrypt(blob, "id_number") == ID
    assert cipher.decrypt(memoryview(blob), "id_number") == ID  # as psycopg returns bytea


def test_blob_layout_and_no_plaintext(cipher):
    blob = cipher.encrypt(ID, "id_number")
    assert blob[0] == pii.DEFAULT_KEY_VERSION
    assert len(blob) == 1 + pii.NONCE_BYTES + len(ID.encode()) + pii.TAG_BYTES
    assert ID.encode() not in blob
    assert b"110105" not in blob


def test_random_nonce_gives_different_ciphertexts(cipher):
    blobs = {cipher.encrypt(ID, "id_number") for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[1:13] for b in blobs}) == 50


def test_ciphertext_cannot_move_between_fields(cipher):
    blob = cipher.encrypt("13812341234", "phone")
    with pytest.raises(PiiError, match="wrong field"):
        cipher.decrypt(blob, "id_number")


def test_tampering_is_detected(cipher):
    blob = bytearray(cipher.encrypt(ID, "id_number"))
    blob[-1] ^= 1
    with pytest.raises(PiiError):
        cipher.decrypt(bytes(blob), "id_number")
    with pytest.raises(PiiError, match="too short"):
        cipher.decrypt(b"\x01short", "id_number")


def test_version_byte_cannot_be_forged(cipher):
    rotated = PiiCipher(os.urandom(32), IDX_KEY, key_version=2, old_keys={1: ENC_KEY})
    blob = bytearray(rotated.encrypt(ID, "id_number"))
    blob[0] = 1  # claim it was written with key 1
    with pytest.raises(PiiError):
        rotated.decrypt(bytes(blob), "id_number")


def test_wrong_key_fails():
    blob = PiiCipher(ENC_KEY, IDX_KEY).encrypt(ID, "id_number")
    with pytest.raises(PiiError):
        PiiCipher(os.urandom(32), IDX_KEY).decrypt(blob, "id_number")


def test_key_rotation_reads_old_blobs_and_writes_new_version():
    old = PiiCipher(ENC_KEY, IDX_KEY)
    old_blob = old.encrypt(ID, "id_number")
    new_key = os.urandom(32)
    rotated = PiiCipher(new_key, IDX_KEY, key_version=2, old_keys={1: ENC_KEY})
    assert rotated.key_version == 2
    assert rotated.decrypt(old_blob, "id_number") == ID
    assert rotated.needs_rotation(old_blob)
    fresh = rotated.reencrypt(old_blob, "id_number")
    assert fresh[0] == 2 and not rotated.needs_rotation(fresh)
    assert rotated.decrypt(fresh, "id_number") == ID
    with pytest.raises(PiiError, match="no key for ciphertext version 2"):
        old.decrypt(fresh, "id_number")
    # the blind index key is separate and unchanged by rotation
    assert rotated.blind_index(ID, "id_number") == old.blind_index(ID, "id_number")


def test_blind_index_is_deterministic_normalised_and_per_field(cipher):
    index = cipher.blind_index(ID, "id_number")
    assert len(index) == 32
    assert cipher.blind_index(ID, "id_number") == index
    assert cipher.blind_index(" 11010519491231002x ", "id_number") == index
    assert cipher.blind_index(ID, "phone") != index
    assert cipher.blind_index("11010519491231003X", "id_number") != index
    other = PiiCipher(ENC_KEY, os.urandom(32))
    assert other.blind_index(ID, "id_number") != index


def test_batch_paths_match_single_paths(cipher):
    values = [ID, None, "13812341234", "张三"]
    blobs = cipher.encrypt_many(values, "phone")
    assert blobs[1] is None
    assert cipher.decrypt_many(blobs, "phone") == values
    assert len({b[1:13] for b in blobs if b}) == 3  # distinct nonces in a batch
    assert cipher.blind_index_many(values, "phone") == [
        None if v is None else cipher.blind_index(v, "phone") for v in values]
    assert cipher.encrypt_many([], "phone") == []


def test_field_name_rules(cipher):
    for bad in ("", "id\x00number"):
        with pytest.raises(PiiError):
            cipher.encrypt(ID, bad)
        with pytest.raises(PiiError):
            cipher.blind_index(ID, bad)


def test_constructor_checks_keys():
    with pytest.raises(PiiError):
        PiiCipher(b"short", IDX_KEY)
    with pytest.raises(PiiError):
        PiiCipher(ENC_KEY, b"short")
    with pytest.raises(PiiError, match="must differ"):
        PiiCipher(ENC_KEY, ENC_KEY)
    with pytest.raises(PiiError, match="version"):
        PiiCipher(ENC_KEY, IDX_KEY, key_version=0)
    with pytest.raises(PiiError, match="version"):
        PiiCipher(ENC_KEY, IDX_KEY, key_version=256)
    with pytest.raises(PiiError):
        PiiCipher(ENC_KEY, IDX_KEY, key_version=2, old_keys={1: b"short"})


def test_key_from_b64():
    key = os.urandom(32)
    assert pii.key_from_b64(base64.b64encode(key).decode()) == key
    assert pii.key_from_b64(" " + base64.b64encode(key).decode() + "\n") == key
    with pytest.raises(PiiError, match="not set"):
        pii.key_from_b64("", "PII_KEY")
    with pytest.raises(PiiError, match="base64"):
        pii.key_from_b64("not base64 !!")
    with pytest.raises(PiiError, match="32 bytes, got 16"):
        pii.key_from_b64(base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(ValueError):  # PiiError is a ValueError for callers that catch that
        pii.key_from_b64("")


def test_mask_id_number():
    assert pii.mask_id_number("11010519491231002X") == "110105********002X"
    assert pii.mask_id_number("110105491231002") == "110105*****1002"
    assert pii.mask_id_number("1234567890") == "**********"
    assert pii.mask_id_number("") == ""


def test_mask_phone():
    assert pii.mask_phone("13812341234") == "138****1234"
    assert pii.mask_phone("05711234567") == "0571-*****67"
    assert pii.mask_phone("057112345678") == "0571-******78"
    assert pii.mask_phone("01012345678") == "010-******78"
    assert pii.mask_phone("12345") == "***45"
    assert pii.mask_phone("1") == "*"


def test_mask_name():
    assert pii.mask_name("张三丰") == "张*丰"
    assert pii.mask_name("张三") == "张*"
    assert pii.mask_name("欧阳娜娜") == "欧**娜"
    assert pii.mask_name("买买提·艾力") == "买****力"
    assert pii.mask_name("张") == "*"
    assert pii.mask_name("") == ""


def test_masks_never_contain_the_hidden_middle():
    masked = pii.mask_id_number(ID)
    assert "19491231" not in masked
    assert "1234" not in pii.mask_phone("13812349999")[3:7]


def test_a_key_with_stray_characters_is_refused_not_silently_cleaned():
    text = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(PiiError, match="not valid base64"):
        pii.key_from_b64(text[:20] + "!" + text[20:], "PII_KEY")


def test_key_errors_name_the_key_that_is_wrong():
    with pytest.raises(PiiError, match="^encryption key must be 32 bytes$"):
        PiiCipher(b"short", IDX_KEY)
    with pytest.raises(PiiError, match="^index key must be 32 bytes$"):
        PiiCipher(ENC_KEY, b"short")
    with pytest.raises(PiiError, match="^old key v1 must be 32 bytes$"):
        PiiCipher(ENC_KEY, IDX_KEY, key_version=2, old_keys={1: b"short"})


def test_every_version_byte_from_1_to_255_can_be_used():
    for version in (1, 255):
        cipher = PiiCipher(ENC_KEY, IDX_KEY, key_version=version)
        assert cipher.encrypt(ID, "id_number")[0] == version


def test_an_empty_value_round_trips(cipher):
    blob = cipher.encrypt("", "remark")
    assert len(blob) == 1 + pii.NONCE_BYTES + pii.TAG_BYTES
    assert cipher.decrypt(blob, "remark") == ""


def test_an_id_number_of_eleven_characters_keeps_both_ends():
    assert pii.mask_id_number("12345678901") == "123456*8901"


def test_landlines_keep_their_area_code():
    assert pii.mask_phone("02112345678") == "021-******78"  # Shanghai: 3-digit area code
    assert pii.mask_phone("0311234567") == "0311-****67"  # shortest landline: 10 digits


def test_anything_not_a_phone_number_keeps_only_its_last_two_characters():
    assert pii.mask_phone("0abc") == "**bc"  # a leading 0 alone does not make a landline
    assert pii.mask_phone("12345678901234") == "************34"  # digits, not a mobile
    assert pii.mask_phone("tel 0571 8888") == "***********88"  # long, but not digits
    assert pii.mask_phone("0571234") == "*****34"  # too short for a landline
    assert pii.mask_phone("123") == "*23"
    assert pii.mask_phone("12") == "**"  # too short to show anything


def test_batch_blind_index_is_the_hmac_of_each_value():
    # blind_index_many reuses HMAC's keyed inner/outer states: the same bytes as hmac.digest
    import hashlib
    import hmac
    import random
    rng = random.Random(5)
    index_key = os.urandom(32)
    cipher = pii.PiiCipher(os.urandom(32), index_key)
    values = ["".join(rng.choice("0123456789Xx 张") for _ in range(rng.randint(0, 40)))
              for _ in range(300)] + [None, "", "１３８"]
    expected = [None if v is None else hmac.digest(
        index_key, b"id_number\x00" + pii.normalise_for_index(v).encode(), hashlib.sha256)
        for v in values]
    assert cipher.blind_index_many(values, "id_number") == expected
    assert [cipher.blind_index(v, "id_number") for v in values if v is not None] == \
        [e for e in expected if e is not None]
