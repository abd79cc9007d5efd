"""A TCP relay a test can cut: a service given the relay's port instead of the broker's
loses the broker when ``cut()`` runs (open connections ended, new ones refused) and finds
it again after ``restore()``, as in a broker restart or a network partition, while every
other process of the test keeps the real broker.

A cut only shuts the sockets down; each is closed by the thread that reads it. Under
eventlet, a socket closed by another green thread while one was reading it left the hub
listening on a file descriptor the next connection reused ("second simultaneous read"),
which broke later tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Relay:
    """Forwards 127.0.0.1:``port`` to ``target`` until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def cut(self) -> None:
        """End every open connection and refuse new ones until restored."""
        self.open.clear()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            _shut(sock)  # its reader sees the end and closes it

    def restore(self) -> None:
        self.open.set()

    def stop(self) -> None:
        self.stopped.set()
        self.cut()
        self.accepting.join(timeout=5)

    def _accept(self) -> None:
        try:
            while not self.stopped.is_set():
                try:
                    client, _ = self.listener.accept()
                except (TimeoutError, OSError):
                    continue
                if not self.open.is_set():
                    client.close()  # refused while cut (nobody reads it)
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                with self.lock:
                    self.sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(source, sink), daemon=True).start()
        finally:
            self.listener.close()  # read by this thread alone


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy source → sink until the end; then end the other direction too and close the
    socket this thread reads (the other pump closes the other)."""
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        _shut(sink)
        source.close()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@contextmanager
def relaying(target: tuple[str, int]) -> Iterator[Relay]:
    relay = Relay(target)
    try:
        yield relay
    finally:
        relay.stop()
