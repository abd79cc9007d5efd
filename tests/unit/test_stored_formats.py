"""Golden vectors for every stored format (issue 17): the bytes written to the database today
must still read, hash and match tomorrow.

Each value below was produced once and is frozen here. A change that makes any of these
fail would break every stored case file (hash chain), every blind-index lookup or every
ciphertext already in a district's database: such a change needs a migration, not a new
golden value. Where a format is specified in a docstring, the vector is also rebuilt from
that specification with the standard library, so the test does not only compare the code
with itself.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridgov_common.kernel import pii
from services.dispatch.domain import casefile

SHANGHAI = timezone(timedelta(hours=8))
ENCRYPTION_KEY = bytes(range(32))
INDEX_KEY = bytes(range(32, 64))

FILED = casefile.Entry(
    seq=1, at=datetime(2026, 12, 5, 9, 30, 0, 123456, tzinfo=SHANGHAI), actor_sub="gw-1",
    actor_role="neighbourhood_grid_worker", action="filed", to_state="filed",
    data={"case_no": "GS20261205-000001", "title": "消防通道堵塞"})
DISPATCHED = casefile.Entry(
    seq=2, at=datetime(2026, 12, 5, 1, 31, tzinfo=UTC), actor_sub="dispatch",
    actor_role="system", action="dispatched", from_state="filed", to_state="dispatched",
    deadline=datetime(2026, 12, 7, 9, 0, tzinfo=UTC), on_time=True,
    notifications=({"to": "department:fire", "type": "dispatch.assignment"},),
    data={"departments": ["fire"]})

FILED_JSON = (
    '{"action":"filed","actor_role":"neighbourhood_grid_worker","actor_sub":"gw-1",'
    '"at":"2026-12-05T01:30:00.123456Z","data":{"case_no":"GS20261205-000001",'
    '"title":"消防通道堵塞"},"deadline":null,"from_state":null,"notifications":[],'
    '"on_time":null,"reason":null,"seq":1,"to_state":"filed"}')
FILED_HASH = "2ef9d50073f88a4603f5f739de627c5d768f367a0dcf7159d63a0f45ead5e294"
DISPATCHED_HASH = "b105f9557fa89c9243933a3bd1ac4be9f80ded99044b493329697921fca4c916"

ID_NUMBER_INDEX = "4c148825dedc4020a1b1a05451349ae5ce048b0768063badd50d9efb4f70dd03"
PHONE_INDEX = "b142ea9f3d492b43f8ab4d33cc880f7ffa0eda44e41d190d40dbf888a50656e1"
# version 3 ‖ nonce 0x64…0x6f ‖ AES-256-GCM("11010519491231002X", aad=0x03‖"id_number")
ID_NUMBER_BLOB = bytes.fromhex(
    "036465666768696a6b6c6d6e6f792aee5749dc67a70a5b6edae9545acd709a4c6c50cf2b80bb28032e6d"
    "c68a362385")


# --- the case file's hash chain (P5.3.4) ------------------------------------------------

def test_genesis_hash_is_64_zeros():
    assert casefile.GENESIS_HASH == "0" * 64


def test_canonical_json_of_an_entry_is_byte_exact():
    # sorted keys, no spaces, UTF-8 (not \u escapes), UTC instants with Z and microseconds
    assert casefile.canonical_json(FILED.body()) == FILED_JSON.encode("utf-8")


def test_entry_hashes_are_the_stored_ones():
    first, second = casefile.chain([FILED, DISPATCHED])
    assert (first.prev_hash, first.hash) == ("0" * 64, FILED_HASH)
    assert (second.prev_hash, second.hash) == (FILED_HASH, DISPATCHED_HASH)


def test_entry_hash_follows_its_published_definition():
    # docstring of entry_hash: sha256(canonical_json(body) + prev_hash), hex
    expected = hashlib.sha256(FILED_JSON.encode("utf-8") + b"0" * 64).hexdigest()
    assert expected == FILED_HASH
    assert casefile.entry_hash(FILED, "0" * 64) == expected


def test_a_stored_chain_still_verifies_and_a_changed_byte_does_not():
    stored = [entry.to_dict() for entry in casefile.chain([FILED, DISPATCHED])]
    assert casefile.verify(stored) == (True, None)
    stored[1]["on_time"] = False  # the printable "on time" column must not be rewritable
    assert casefile.verify(stored) == (False, 2)


# --- blind indexes (exact lookup and dedupe of ID numbers and phones) ------------------

def test_blind_index_values_are_the_stored_ones():
    cipher = pii.PiiCipher(ENCRYPTION_KEY, INDEX_KEY)
    # lower-case x and surrounding spaces normalise to the stored form (upper case, trimmed)
    assert cipher.blind_index("11010519491231002x", "id_number").hex() == ID_NUMBER_INDEX
    assert cipher.blind_index("11010519491231002X", "id_number").hex() == ID_NUMBER_INDEX
    assert cipher.blind_index(" 13800001234 ", "phone").hex() == PHONE_INDEX
    assert [v.hex() for v in cipher.blind_index_many(["11010519491231002x", None],
                                                     "id_number") if v] == [ID_NUMBER_INDEX]


def test_blind_index_follows_its_published_definition():
    # module docstring: HMAC-SHA256(index key, field ‖ 0x00 ‖ normalised value)
    digest = hmac.digest(INDEX_KEY, b"id_number\x00" + b"11010519491231002X", hashlib.sha256)
    assert digest.hex() == ID_NUMBER_INDEX
    assert pii.normalise_for_index("１１０１０５ x ") == "110105 X"  # NFKC, trim, upper


# --- field encryption (AES-256-GCM) -----------------------------------------------------

def test_a_stored_blob_still_decrypts():
    cipher = pii.PiiCipher(ENCRYPTION_KEY, INDEX_KEY, key_version=3)
    assert cipher.decrypt(ID_NUMBER_BLOB, "id_number") == "11010519491231002X"
    # also read as a retired key after a rotation to version 4
    rotated = pii.PiiCipher(bytes(range(64, 96)), INDEX_KEY, key_version=4,
                            old_keys={3: ENCRYPTION_KEY})
    assert rotated.decrypt(ID_NUMBER_BLOB, "id_number") == "11010519491231002X"
    assert rotated.needs_rotation(ID_NUMBER_BLOB)


def test_blob_layout_is_version_nonce_ciphertext_tag():
    # module docstring: version byte ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag; the
    # associated data is version byte ‖ field name
    version, nonce, sealed = ID_NUMBER_BLOB[0], ID_NUMBER_BLOB[1:13], ID_NUMBER_BLOB[13:]
    assert version == 3 and nonce == bytes(range(100, 112))
    plain = AESGCM(ENCRYPTION_KEY).decrypt(nonce, sealed, b"\x03id_number")
    assert plain == b"11010519491231002X"
    assert len(sealed) == len(plain) + 16


def test_new_blobs_keep_the_layout():
    cipher = pii.PiiCipher(ENCRYPTION_KEY, INDEX_KEY, key_version=3)
    for blob in (cipher.encrypt("13800001234", "phone"),
                 cipher.encrypt_many(["13800001234"], "phone")[0]):
        assert blob[0] == 3 and len(blob) == 1 + 12 + len("13800001234") + 16
        assert AESGCM(ENCRYPTION_KEY).decrypt(blob[1:13], blob[13:], b"\x03phone") \
            == b"13800001234"


def test_masks_are_the_documented_ones():
    assert pii.mask_id_number("11010519491231002X") == "110105********002X"
    assert pii.mask_phone("13800001234") == "138****1234"
