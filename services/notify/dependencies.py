"""Dependency providers of notify: the PII cipher (addresses, webhook secrets)."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.registry.domain import pii


class Pii(DependencyProvider):
    """The platform's personal-data cipher (services/registry/domain/pii.py); keys come
    from config (the environment), never from the database."""

    def setup(self) -> None:
        config = self.container.config
        try:
            self.cipher = pii.PiiCipher(pii.key_from_b64(config.get("PII_KEY", "")),
                                        pii.key_from_b64(config.get("PII_INDEX_KEY", "")))
        except ValueError as exc:
            raise RuntimeError(f"PII_KEY / PII_INDEX_KEY: {exc}") from None

    def get_dependency(self, worker_ctx) -> pii.PiiCipher:
        return self.cipher
