"""A DNS server for one test: answers A queries from a dict it may change while it runs,
NXDOMAIN for any other name. It stands in for Docker's embedded DNS (127.0.0.11), which
answers a compose service's name with the addresses of its running replicas and nothing
once it is stopped; nginx's resolver then asks it the way it asks Docker's."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TTL = 1
A, IN = 1, 1


def _name(packet: bytes, offset: int) -> tuple[str, int]:
    labels = []
    while packet[offset]:
        size = packet[offset]
        labels.append(packet[offset + 1:offset + 1 + size].decode("ascii"))
        offset += size + 1
    return ".".join(labels).lower(), offset + 1


def answer(query: bytes, zone: dict[str, list[str]]) -> bytes:
    """The reply to one query: the addresses of an A question, else NXDOMAIN."""
    ident, _flags, qdcount = struct.unpack("!HHH", query[:6])
    name, end = _name(query, 12)
    qtype, _qclass = struct.unpack("!HH", query[end:end + 4])
    question = query[12:end + 4]
    addresses = zone.get(name.rstrip("."))
    if addresses is None:
        return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
    records = [struct.pack("!HHHIH", 0xC00C, A, IN, TTL, 4) + socket.inet_aton(address)
               for address in addresses] if qtype == A else []
    header = struct.pack("!HHHHHH", ident, 0x8180, 1, len(records), 0, 0)
    return header + question + b"".join(records)


@contextmanager
def serving(zone: dict[str, list[str]]) -> Iterator[str]:
    """The server on 127.0.0.1:<free UDP port> until the block ends; its address, as
    nginx's ``resolver`` directive takes it. Changes to ``zone`` show in the next answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            sock.sendto(answer(query, zone), peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
