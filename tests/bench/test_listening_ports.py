"""The bench's servers listen on ports that outgoing connections are never given."""

from __future__ import annotations

import socket

from bench.storm.run import LOWEST_LISTENING_PORT, _ephemeral_ports, free_port, free_port_run


def test_runs_of_ports_lie_outside_the_range_of_outgoing_connections() -> None:
    low, high = _ephemeral_ports()
    for _ in range(20):
        ports = free_port_run(4)
        assert list(ports) == list(range(ports[0], ports[0] + 4))
        assert all(LOWEST_LISTENING_PORT <= port < low or port > high for port in ports)
        for port in ports:
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", port))
    assert not low <= free_port() <= high


def test_a_connection_to_a_listener_never_takes_one_of_those_ports() -> None:
    low, high = _ephemeral_ports()
    with socket.create_server(("127.0.0.1", free_port())) as server:
        clients = [socket.create_connection(server.getsockname()) for _ in range(50)]
        try:
            assert all(low <= c.getsockname()[1] <= high for c in clients)
        finally:
            for client in clients:
                client.close()
