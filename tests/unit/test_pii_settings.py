"""Where the PII keys come from: configuration only (P5.4.4; deploy/README.md "Rotating
keys"). ``PII_KEY``/``PII_INDEX_KEY``/``PII_KEY_VERSION``/``PII_OLD_KEYS``."""

import base64

import pytest

from gridgov_common.kernel.pii import PiiCipher, PiiError, cipher_from_settings, old_keys_from_text

K1, K2, K3, INDEX = (bytes([n]) * 32 for n in (1, 2, 3, 9))
ID = "11010519491231002X"


def b64(key):
    return base64.b64encode(key).decode()


def settings(**extra):
    return {"PII_KEY": b64(K1), "PII_INDEX_KEY": b64(INDEX), **extra}


# --- PII_OLD_KEYS -------------------------------------------------------------------------

def test_no_old_keys():
    assert old_keys_from_text(None) == {}
    assert old_keys_from_text("") == {}
    assert old_keys_from_text(" , ") == {}


def test_old_keys_by_version():
    assert old_keys_from_text(f"1:{b64(K1)},3:{b64(K3)}") == {1: K1, 3: K3}
    assert old_keys_from_text(f" 2 : {b64(K2)} ,, ") == {2: K2}
    assert old_keys_from_text(f",1:{b64(K1)}, ,3:{b64(K3)}") == {1: K1, 3: K3}  # empty items


@pytest.mark.parametrize("text", [
    "1" + "=" * 43,  # no version separator
    f"one:{b64(K1)}",
    f":{b64(K1)}",
    f"1:{b64(K1)},1:{b64(K2)}",  # one version, two keys
    "1:c2hvcnQ=",  # 5 bytes
    "1:",
])
def test_malformed_old_keys_are_refused(text):
    with pytest.raises(PiiError, match="^PII_OLD_KEYS"):
        old_keys_from_text(text)


@pytest.mark.parametrize("version", ["0", "256"])
def test_old_key_versions_are_bytes_from_1_to_255(version):
    with pytest.raises(PiiError, match="version must be 1–255"):
        old_keys_from_text(f"{version}:{b64(K1)}")


def test_an_old_key_error_names_the_setting_and_version_but_never_shows_the_key():
    with pytest.raises(PiiError) as info:
        old_keys_from_text(f"2:{b64(K2)},3:{b64(K3)[:-4]}", "GRIDGOV_PII_OLD_KEYS")
    assert str(info.value).startswith("GRIDGOV_PII_OLD_KEYS v3 ")
    with pytest.raises(PiiError) as info:
        old_keys_from_text(b64(K2))  # the version was forgotten: a bare key
    assert b64(K2)[8:] not in str(info.value)
    with pytest.raises(PiiError, match="version 1 appears twice"):
        old_keys_from_text(f"1:{b64(K1)},1:{b64(K1)}")


# --- the cipher from settings -----------------------------------------------------------------

def test_the_current_key_is_version_1_unless_configured():
    cipher = cipher_from_settings(settings())
    assert cipher.key_version == 1
    assert cipher.key_versions == {1}
    assert PiiCipher(K1, INDEX).decrypt(cipher.encrypt(ID, "id_number"), "id_number") == ID
    assert cipher.blind_index(ID, "id_number") == PiiCipher(K1, INDEX).blind_index(
        ID, "id_number")
    assert cipher_from_settings(settings(PII_KEY_VERSION="")).key_version == 1
    assert cipher_from_settings(settings(PII_KEY_VERSION=None)).key_version == 1


def test_a_rotated_key_writes_its_version_and_reads_the_old_blobs():
    old_blob = PiiCipher(K1, INDEX).encrypt(ID, "id_number")
    cipher = cipher_from_settings({"PII_KEY": b64(K2), "PII_INDEX_KEY": b64(INDEX),
                                   "PII_KEY_VERSION": " 2 ", "PII_OLD_KEYS": f"1:{b64(K1)}"})
    assert cipher.key_version == 2
    assert cipher.key_versions == {1, 2}
    assert cipher.decrypt(old_blob, "id_number") == ID
    assert cipher.encrypt(ID, "id_number")[0] == 2
    assert cipher_from_settings(settings(PII_KEY_VERSION=7)).key_version == 7  # not a str


def test_the_clis_read_prefixed_names():
    env = {"GRIDGOV_PII_KEY": b64(K2), "GRIDGOV_PII_INDEX_KEY": b64(INDEX),
           "GRIDGOV_PII_KEY_VERSION": "2", "GRIDGOV_PII_OLD_KEYS": f"1:{b64(K1)}",
           "PII_KEY": "ignored"}
    cipher = cipher_from_settings(env, "GRIDGOV_")
    assert cipher.key_version == 2 and cipher.key_versions == {1, 2}
    blob = cipher.encrypt(ID, "phone")
    assert PiiCipher(K2, INDEX, key_version=2).decrypt(blob, "phone") == ID


def test_the_current_key_may_also_be_listed_among_the_old_ones():
    # during a rolling restart PII_OLD_KEYS names the next key, which becomes current
    cipher = cipher_from_settings(settings(PII_OLD_KEYS=f"1:{b64(K1)},2:{b64(K2)}"))
    assert cipher.key_version == 1 and cipher.key_versions == {1, 2}
    assert cipher.encrypt(ID, "id_number")[0] == 1


@pytest.mark.parametrize("bad, message", [
    ({"PII_KEY_VERSION": "two"}, "^PII_KEY_VERSION must be a number 1–255, got 'two'$"),
    ({"PII_KEY_VERSION": "-1"}, "^PII_KEY_VERSION must be a number"),
    ({"PII_KEY_VERSION": "0"}, "version must be 1–255"),
    ({"PII_KEY_VERSION": "256"}, "version must be 1–255"),
    ({"PII_KEY": ""}, "^PII_KEY is not set"),
    ({"PII_KEY": None}, "^PII_KEY is not set"),
    ({"PII_INDEX_KEY": ""}, "^PII_INDEX_KEY is not set"),
    ({"PII_INDEX_KEY": b64(K1)}, "must differ"),
    ({"PII_OLD_KEYS": "1"}, "^PII_OLD_KEYS: each entry"),
    ({"PII_OLD_KEYS": f"1:{b64(K2)}"},
     "^PII_OLD_KEYS names version 1 with another key than PII_KEY$"),
])
def test_a_wrong_setting_is_refused_and_named(bad, message):
    with pytest.raises(PiiError, match=message):
        cipher_from_settings(settings(**bad))


def test_errors_carry_the_prefix_of_the_names_read():
    env = {"GRIDGOV_PII_KEY": b64(K1), "GRIDGOV_PII_INDEX_KEY": b64(INDEX)}
    with pytest.raises(PiiError, match="^GRIDGOV_PII_KEY_VERSION must be a number"):
        cipher_from_settings({**env, "GRIDGOV_PII_KEY_VERSION": "x"}, "GRIDGOV_")
    with pytest.raises(PiiError, match="^GRIDGOV_PII_KEY is not set"):
        cipher_from_settings({"GRIDGOV_PII_INDEX_KEY": b64(INDEX)}, "GRIDGOV_")
    with pytest.raises(PiiError, match="^GRIDGOV_PII_INDEX_KEY is not set"):
        cipher_from_settings({"GRIDGOV_PII_KEY": b64(K1)}, "GRIDGOV_")
    with pytest.raises(PiiError, match="^GRIDGOV_PII_OLD_KEYS v1 "):
        cipher_from_settings({**env, "GRIDGOV_PII_OLD_KEYS": "1:xx"}, "GRIDGOV_")
    with pytest.raises(PiiError, match="^GRIDGOV_PII_OLD_KEYS names version 1 with another "
                                       "key than GRIDGOV_PII_KEY$"):
        cipher_from_settings({**env, "GRIDGOV_PII_OLD_KEYS": f"1:{b64(K2)}"}, "GRIDGOV_")
