"""Finding the server's workers by their listening socket, while connections close."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from bench.storm import procstat


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def test_a_process_listening_on_the_port_is_found(listener: socket.socket) -> None:
    # This process itself: the descriptor that lists its descriptors is closed by the time
    # each is read, as a connection closing meanwhile would be.
    port = listener.getsockname()[1]
    assert procstat.listening([os.getpid()], port) == [os.getpid()]
    assert procstat.listening([os.getpid()], port + 1 if port < 65535 else port - 1) == []


def test_a_descriptor_closed_while_it_is_read_does_not_hide_the_process(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a lesson's end a worker closes thousands of connections: the descriptors listed a
    moment ago are gone when read, and the worker must still be found."""
    port = listener.getsockname()[1]
    readlink = os.readlink
    closing = [socket.socket() for _ in range(3)]

    def closed_meanwhile(path: str) -> str:
        if path.endswith(tuple(f"/{s.fileno()}" for s in closing)):
            raise FileNotFoundError(path)
        return readlink(path)

    monkeypatch.setattr(os, "readlink", closed_meanwhile)
    try:
        assert procstat.listening([os.getpid()], port) == [os.getpid()]
    finally:
        for s in closing:
            s.close()
