"""Photo uploads: only JPEG, PNG and WebP, recognised by their first bytes.

Why sniff: the declared Content-Type is whatever the client says; a photo is later shown to
staff (and, for public cases, on Open311), so a file that claims to be an image but is
HTML or an executable must never be stored.  Photos are stored by their SHA-256, so a photo
attached to several cases (or uploaded twice after a lost reply) is stored once.
"""

from __future__ import annotations

import hashlib

JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
ALLOWED_TYPES = (JPEG, PNG, WEBP)
MAX_PHOTO_BYTES = 5 * 1024 * 1024  # 5 MiB: a phone photo after the app's resizing
MAX_PHOTOS_PER_CASE = 9  # as events.case.reported v1


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
