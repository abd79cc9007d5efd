"""Personal data protection: field encryption, blind indexes and display masking.

P5.4.4 "personal privacy must never leak" (严禁泄露个人隐私); PIPL Art. 51 (encryption,
de-identification); GB/T 35273-2020 §6.3 (sensitive data stored encrypted) and §7.2
(display limits, i.e. masking).

* ``encrypt``/``decrypt``: AES-256-GCM.  Blob = version byte ‖ 12-byte random nonce ‖
  ciphertext ‖ 16-byte tag.  The associated data binds the blob to its field name and key
  version, so an ID-number ciphertext copied into the phone column fails to decrypt.
* ``blind_index``: HMAC-SHA256(index key, field ‖ 0x00 ‖ normalised value), deterministic,
  so the database can find and de-duplicate people by ID number or phone without
  storing either in plaintext (the known anti-pattern is a plaintext unique index).
* Keys come from configuration (the environment), never from the database; a key version
  byte lets the encryption key rotate: new blobs use the current version, old blobs are
  read with the retired keys passed as ``old_keys``.  The blind-index key has no version:
  rotating it means recomputing every index (a batch job), which is why it is separate.

NIST SP 800-38D caps random 96-bit nonces at 2³² encryptions per key; a district's tens of
millions of field writes stay far below that, and a key rotation resets the count.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
DEFAULT_KEY_VERSION = 1
_HEADER = 1 + NONCE_BYTES


class PiiError(ValueError):
    """A key is malformed or a blob cannot be decrypted (wrong key, field or tampering)."""


def key_from_b64(value: str, name: str = "key") -> bytes:
    """Decode a base64 key from config and insist on 32 bytes (AES-256 / HMAC-SHA256)."""
    if not value:
        raise PiiError(f"{name} is not set: give {KEY_BYTES} random bytes, base64-encoded")
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PiiError(f"{name} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise PiiError(f"{name} must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def old_keys_from_text(value: str | None, name: str = "PII_OLD_KEYS") -> dict[int, bytes]:
    """``"1:<base64>,3:<base64>"`` → {version: key}: the other keys blobs may name.

    During a rotation these are the retired keys (read until ``rekey-pii`` has rewritten
    their blobs) and, for one rolling restart, the next key (so replicas still on the old
    current key can read what upgraded replicas write; deploy/README.md "Rotating keys").
    """
    keys: dict[int, bytes] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        version_text, sep, key_text = item.strip().partition(":")
        if not sep or not version_text.strip().isdigit():
            raise PiiError(f"{name}: each entry is <version>:<base64 key>, got {item[:8]!r}…")
        version = _check_version(int(version_text))
        if version in keys:
            raise PiiError(f"{name}: version {version} appears twice")
        keys[version] = key_from_b64(key_text, f"{name} v{version}")
    return keys


def cipher_from_settings(settings: Mapping[str, object], prefix: str = "") -> PiiCipher:
    """The cipher from ``PII_KEY``, ``PII_INDEX_KEY``, ``PII_KEY_VERSION`` (default 1) and
    ``PII_OLD_KEYS`` (each name with ``prefix``: a service's config has none, the CLIs read
    the environment's ``GRIDGOV_``).  Keys live in configuration only, never the database.
    """
    def get(name: str) -> str:
        value = settings.get(prefix + name)
        return "" if value is None else str(value).strip()

    version_text = get("PII_KEY_VERSION") or str(DEFAULT_KEY_VERSION)
    if not version_text.isdigit():
        raise PiiError(f"{prefix}PII_KEY_VERSION must be a number 1–255, got {version_text!r}")
    version = _check_version(int(version_text))
    current = key_from_b64(get("PII_KEY"), f"{prefix}PII_KEY")
    old = old_keys_from_text(get("PII_OLD_KEYS"), f"{prefix}PII_OLD_KEYS")
    if version in old and old[version] != current:  # two keys for one version byte
        raise PiiError(f"{prefix}PII_OLD_KEYS names version {version} with another key "
                       f"than {prefix}PII_KEY")
    old.pop(version, None)
    return PiiCipher(current, key_from_b64(get("PII_INDEX_KEY"), f"{prefix}PII_INDEX_KEY"),
                     key_version=version, old_keys=old)


def _check_key(key: bytes, name: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise PiiError(f"{name} must be {KEY_BYTES} bytes")
    return bytes(key)


def _check_version(version: int) -> int:
    if not isinstance(version, int) or not 1 <= version <= 255:
        raise PiiError(f"key version must be 1–255, got {version!r}")
    return version


def _field_bytes(field: str) -> bytes:
    """A field name as bytes; NUL is refused so field ‖ 0x00 ‖ value stays unambiguous."""
    if not field or "\x00" in field:
        raise PiiError("field name must be a non-empty string without NUL")
    return field.encode()


def normalise_for_index(value: str) -> str:
    """Safety net before hashing: NFKC, trimmed, upper case (``x`` = ``X`` in ID numbers).

    Callers still normalise with the domain rules first (``identity.normalise_*``); this
    only makes cosmetic differences harmless.
    """
    if value.isascii():  # NFKC leaves ASCII as it is (bulk imports: IDs, phones)
        return value.strip().upper()
    return unicodedata.normalize("NFKC", value).strip().upper()


class PiiCipher:
    """Encrypts, decrypts and blind-indexes personal fields with keys held in memory only.

    One instance per process; AESGCM objects are built once and reused, which matters for
    bulk imports (tens of thousands of fields per second).
    """

    __slots__ = ("_aead", "_current", "_index_inner", "_index_key", "_index_outer")

    def __init__(self, encryption_key: bytes, index_key: bytes, *,
                 key_version: int = DEFAULT_KEY_VERSION,
                 old_keys: Mapping[int, bytes] | None = None) -> None:
        self._current = _check_version(key_version)
        self._aead: dict[int, AESGCM] = {
            _check_version(v): AESGCM(_check_key(k, f"old key v{v}"))
            for v, k in (old_keys or {}).items()
        }
        self._aead[self._current] = AESGCM(_check_key(encryption_key, "encryption key"))
        self._index_key = _check_key(index_key, "index key")
        # HMAC's inner and outer hashes with the key already absorbed (RFC 2104), for
        # blind_index_many: a bulk import saves the two key blocks per value
        block = self._index_key.ljust(hashlib.sha256().block_size, b"\x00")
        self._index_inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._index_outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        if self._index_key == bytes(encryption_key):
            raise PiiError("the index key must differ from the encryption key")

    @property
    def key_version(self) -> int:
        """Version byte written into new blobs."""
        return self._current

    @property
    def key_versions(self) -> frozenset[int]:
        """Every version this cipher can read (the current one and ``old_keys``)."""
        return frozenset(self._aead)

    @staticmethod
    def _aad(version: int, field: str) -> bytes:
        """Associated data: version byte ‖ field name (binds a blob to both)."""
        return bytes((version,)) + _field_bytes(field)

    def encrypt(self, plaintext: str, field: str) -> bytes:
        """Encrypt one value of ``field``; a fresh random nonce every time."""
        # P5.4.4 / GB/T 35273 §6.3: sensitive personal data is stored encrypted
        return self._seal(plaintext, self._aad(self._current, field), os.urandom(NONCE_BYTES))

    def _seal(self, plaintext: str, aad: bytes, nonce: bytes) -> bytes:
        sealed = self._aead[self._current].encrypt(nonce, plaintext.encode(), aad)
        return aad[:1] + nonce + sealed

    def encrypt_many(self, plaintexts: Sequence[str | None], field: str) -> list[bytes | None]:
        """Encrypt a batch of one field (None stays None): one urandom call, one AAD."""
        aad = self._aad(self._current, field)
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        seal = self._aead[self._current].encrypt
        prefix = aad[:1]
        out: list[bytes | None] = []
        append = out.append
        for i, text in enumerate(plaintexts):
            if text is None:
                append(None)
                continue
            nonce = nonces[i * NONCE_BYTES:(i + 1) * NONCE_BYTES]
            append(prefix + nonce + seal(nonce, text.encode(), aad))
        return out

    def decrypt(self, blob: bytes, field: str) -> str:
        """Decrypt a blob of ``field``; PiiError if the key, field or bytes do not match."""
        blob = bytes(blob)  # psycopg hands back memoryview for bytea
        if len(blob) < _HEADER + TAG_BYTES:
            raise PiiError("ciphertext too short")
        version = blob[0]
        aead = self._aead.get(version)
        if aead is None:
            raise PiiError(f"no key for ciphertext version {version}")
        try:
            plain = aead.decrypt(blob[1:_HEADER], blob[_HEADER:], self._aad(version, field))
        except InvalidTag:
            raise PiiError(f"cannot decrypt {field}: wrong key, wrong field or tampered data"
                           ) from None
        return plain.decode()

    def decrypt_many(self, blobs: Iterable[bytes | None], field: str) -> list[str | None]:
        """Decrypt a batch (None stays None)."""
        return [None if b is None else self.decrypt(b, field) for b in blobs]

    def needs_rotation(self, blob: bytes) -> bool:
        """True when a blob was written with a key other than the current one."""
        return bytes(blob[:1]) != bytes((self._current,))

    def reencrypt(self, blob: bytes, field: str) -> bytes:
        """Decrypt with whichever key wrote it and encrypt with the current key."""
        return self.encrypt(self.decrypt(blob, field), field)

    def blind_index(self, value: str, field: str) -> bytes:
        """Deterministic 32-byte HMAC of a field's normalised value, for lookup and dedupe.

        Keyed per field name, so equal strings in different fields do not link records.
        """
        message = _field_bytes(field) + b"\x00" + normalise_for_index(value).encode()
        return hmac.digest(self._index_key, message, hashlib.sha256)

    def blind_index_many(self, values: Sequence[str | None], field: str) -> list[bytes | None]:
        """Blind indexes of a batch (None stays None)."""
        prefix = _field_bytes(field) + b"\x00"
        inner, outer = self._index_inner, self._index_outer
        out: list[bytes | None] = []
        append = out.append
        for value in values:
            if value is None:
                append(None)
                continue
            digest = inner.copy()
            digest.update(prefix + normalise_for_index(value).encode())
            mac = outer.copy()
            mac.update(digest.digest())
            append(mac.digest())
        return out


def _stars(n: int) -> str:
    return "*" * max(n, 0)


def mask_id_number(id_number: str) -> str:
    """Keep the first 6 (address code) and last 4 characters (GB/T 35273 §7.2).

    '11010519491231002X' → '110105********002X'.  Anything too short to keep both parts
    is masked entirely, so a malformed value cannot leak through the mask.
    """
    # P5.4.4: the birth date and sequence never appear in a default view
    if len(id_number) <= 10:
        return _stars(len(id_number))
    return id_number[:6] + _stars(len(id_number) - 10) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """Mobile: '138****1234'; landline: area code, stars, last 2 ('0571-*****67').

    Expects a normalised phone (``identity.normalise_phone``); other strings keep only
    their last 2 characters.
    """
    if len(phone) == 11 and phone.startswith("1") and phone.isdigit():
        return phone[:3] + "****" + phone[-4:]
    if phone.startswith("0") and phone.isdigit() and len(phone) >= 10:
        area = 3 if phone[:2] in ("01", "02") else 4
        return phone[:area] + "-" + _stars(len(phone) - area - 2) + phone[-2:]
    return _stars(len(phone) - 2) + phone[-2:] if len(phone) > 2 else _stars(len(phone))


def mask_name(name: str) -> str:
    """Keep the first and (for 3+ characters) last character: '张三丰' → '张*丰', '张三' → '张*'.

    Four-character and minority names ('欧阳娜娜', '买买提·艾力') keep first and last too.
    """
    name = name.strip()
    if len(name) <= 1:
        return _stars(len(name))
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + _stars(len(name) - 2) + name[-1]
