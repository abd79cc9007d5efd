"""The personal-data cipher as a nameko dependency (P5.4.4): keys come from the service's
config (the environment: ``PII_KEY``, ``PII_INDEX_KEY``, and for a rotation
``PII_KEY_VERSION`` and ``PII_OLD_KEYS``), never from the database; a bad key stops the
service at start."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from gridgov_common.kernel import pii
from gridgov_common.platform.settings import SECRET, TEXT, Setting, Settings

# Checked by gridgov_common.kernel.pii (its messages name the key); secrets have no default.
PII_KEY = Setting("PII_KEY", SECRET, "", "base64 AES-256 key of personal data (P5.4.4)")
PII_INDEX_KEY = Setting("PII_INDEX_KEY", SECRET, "", "base64 HMAC key of the blind indexes")
PII_KEY_VERSION = Setting("PII_KEY_VERSION", TEXT, str(pii.DEFAULT_KEY_VERSION),
                          "version byte of PII_KEY (1-255)")
PII_OLD_KEYS = Setting("PII_OLD_KEYS", SECRET, "",
                       "earlier keys still decrypted during a rotation, \"1:<b64>,…\"")
PII_SETTINGS = Settings(PII_KEY, PII_INDEX_KEY, PII_KEY_VERSION, PII_OLD_KEYS)


class Pii(DependencyProvider):
    """Injects a :class:`gridgov_common.kernel.pii.PiiCipher`."""

    def setup(self) -> None:
        values = {setting.key: setting.of(self.container)
                  for setting in (PII_KEY, PII_INDEX_KEY, PII_KEY_VERSION, PII_OLD_KEYS)}
        try:
            self.cipher = pii.cipher_from_settings(values)
        except ValueError as exc:
            raise RuntimeError(f"PII keys: {exc}") from None

    def get_dependency(self, worker_ctx) -> pii.PiiCipher:
        return self.cipher
