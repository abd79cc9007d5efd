"""Bounded decompression for kombu: no zip bomb reaches memory.

kombu decompresses a body that carries a ``compression`` header while it builds the
message, before any of our checks run: a few kilobytes of zlib can expand to gigabytes
in the consumer thread. The contract's bodies are plain JSON of at most
``MAX_MESSAGE_BYTES``, so every decoder kombu knows is replaced (process-wide, at import)
by one that stops after ``MAX_MESSAGE_BYTES`` + 1 bytes of output and refuses the message
as too large; compression methods we cannot bound are refused outright. kombu then hands
the message to our ``on_decode_error``, which dead-letters it with the reason.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable

import kombu.compression

from gridgov_common.contract import MAX_MESSAGE_BYTES, MESSAGE_TOO_LARGE, ContractError

UNSUPPORTED_COMPRESSION = "unsupported_compression"


def _too_large() -> ContractError:
    return ContractError(MESSAGE_TOO_LARGE, f"the body decompresses to more than "
                         f"{MAX_MESSAGE_BYTES} bytes", {"limit": MAX_MESSAGE_BYTES})


def bounded(make_decompressor: Callable[[], object]) -> Callable[[bytes], bytes]:
    """A decoder that never produces more than ``MAX_MESSAGE_BYTES`` + 1 bytes."""
    def decode(body: bytes) -> bytes:
        output = make_decompressor().decompress(body, MAX_MESSAGE_BYTES + 1)
        if len(output) > MAX_MESSAGE_BYTES:
            raise _too_large()
        return output
    return decode


def _refuse(content_type: str) -> Callable[[bytes], bytes]:
    def decode(body: bytes) -> bytes:
        raise ContractError(UNSUPPORTED_COMPRESSION,
                            f"{content_type} bodies are not accepted: send plain JSON")
    return decode


BOUNDED = {
    "application/x-gzip": bounded(zlib.decompressobj),
    "application/x-bz2": bounded(bz2.BZ2Decompressor),
    "application/x-lzma": bounded(lzma.LZMADecompressor),
}


def install() -> None:
    """Replace every decoder kombu has registered (idempotent)."""
    for content_type in list(kombu.compression._decoders):
        kombu.compression._decoders[content_type] = (
            BOUNDED.get(content_type) or _refuse(content_type))


install()
