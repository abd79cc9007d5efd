"""The outbox relay writes a batch's frames to the socket in one ``sendall``
(``messaging.corked``), copies of py-amqp's reused frame buffer, in order; a batch that
fails half-way sends nothing (the publisher then drops the connection)."""

from __future__ import annotations

import pytest

from gridgov_common.platform import messaging


class Transport:
    """py-amqp's transport as the relay uses it: ``write`` goes through ``_write``."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._write = self.sent.append

    def write(self, data) -> None:
        self._write(data)


def test_frames_written_in_the_block_go_out_in_one_write_in_order():
    transport = Transport()
    buffer = bytearray(b"frame-1")
    with messaging.corked(transport):
        transport.write(memoryview(buffer))
        buffer[:] = b"frame-2"  # py-amqp reuses its buffer for the next frame
        transport.write(memoryview(buffer))
        assert transport.sent == []
    assert transport.sent == [b"frame-1frame-2"]
    transport.write(b"after")
    assert transport.sent[-1] == b"after"  # the socket's own write again


def test_a_block_that_fails_sends_nothing():
    transport = Transport()
    with pytest.raises(RuntimeError), messaging.corked(transport):
        transport.write(b"half a batch")
        raise RuntimeError("the batch failed")
    assert transport.sent == []
    transport.write(b"next")
    assert transport.sent == [b"next"]
