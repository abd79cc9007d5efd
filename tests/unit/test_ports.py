"""tools.ports: a port is handed out once per process, and nothing listens on it."""

import socket

from tools import ports


def test_no_port_is_handed_out_twice_and_each_is_free():
    given = [ports.free_port() for _ in range(300)]

    assert len(set(given)) == len(given)
    for port in given[:20]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # raises if something listens there


def test_a_port_already_handed_out_is_skipped(monkeypatch):
    first = ports.free_port()
    answers = iter([first, first])  # the kernel offers the same port twice...
    real_socket = socket.socket

    class Offering(real_socket):
        def getsockname(self):
            return ("127.0.0.1", next(answers, super().getsockname()[1]))

    monkeypatch.setattr(ports.socket, "socket", Offering)
    second = ports.free_port()

    assert second != first  # ...and is refused until a new one comes
