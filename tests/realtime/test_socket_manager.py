"""python-socketio's bookkeeping of clients, kept per client (``realtime.socket_manager``)."""

from __future__ import annotations

import socketio

from realtime.socket_manager import SocketManager


class _Ids:
    """What the manager asks of its server: new client ids."""

    def __init__(self) -> None:
        self.eio = self
        self.packet_class = socketio.packet.Packet
        self._next = 0

    def generate_id(self) -> str:
        self._next += 1
        return f"sid{self._next}"


def _manager() -> SocketManager:
    manager = SocketManager()
    manager.set_server(_Ids())
    return manager


async def test_clients_connect_enter_rooms_and_leave_nothing_behind() -> None:
    manager = _manager()
    sids = [await manager.connect(f"eio{n}", "/") for n in range(3)]
    assert all(manager.is_connected(sid, "/") for sid in sids)
    await manager.enter_room(sids[0], "/", "lesson-7")
    await manager.enter_room(sids[1], "/", "lesson-7")
    assert set(manager.get_rooms(sids[0], "/")) == {sids[0], "lesson-7"}
    assert {sid for sid, _eio in manager.get_participants("/", "lesson-7")} == set(sids[:2])

    manager.pre_disconnect(sids[0], "/")
    assert not manager.is_connected(sids[0], "/"), "disconnecting: no longer connected"
    assert manager.is_connected(sids[1], "/")
    await manager.disconnect(sids[0], "/")
    assert {sid for sid, _eio in manager.get_participants("/", "lesson-7")} == {sids[1]}
    assert manager.get_rooms(sids[0], "/") == []
    assert manager.sid_from_eio_sid("eio0", "/") is None

    for sid in sids[1:]:
        manager.pre_disconnect(sid, "/")
        await manager.disconnect(sid, "/")
    assert manager.rooms == {} and manager.pending_connect == {}
    assert manager.pending_disconnect == {}
    assert manager.get_rooms(sids[1], "/") == []


async def test_a_client_disconnected_while_connecting_is_forgotten() -> None:
    manager = _manager()
    sid = await manager.pre_connect("eio1", "/")
    assert sid is not None and not manager.is_connected(sid, "/")
    await manager.disconnect(sid, "/")
    assert manager.rooms == {} and manager.pending_connect == {}
    assert await manager.pre_connect("eio1", "/") is not None, "the same Engine.IO client again"
