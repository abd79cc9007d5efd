"""The personal-data cipher as a nameko dependency (P5.4.4): keys come from the service's
config (the environment: ``PII_KEY``, ``PII_INDEX_KEY``, and for a rotation
``PII_KEY_VERSION`` and ``PII_OLD_KEYS``), never from the database; a bad key stops the
service at start."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from gridgov_common import pii


class Pii(DependencyProvider):
    """Injects a :class:`gridgov_common.pii.PiiCipher`."""

    def setup(self) -> None:
        config = self.container.config
        try:
            self.cipher = pii.cipher_from_settings(config)
        except ValueError as exc:
            raise RuntimeError(f"PII keys: {exc}") from None

    def get_dependency(self, worker_ctx) -> pii.PiiCipher:
        return self.cipher
