"""The msgpack wire codec: browser binary, size bound, bus payloads."""

from __future__ import annotations

import msgpack

from realtime import codec
from realtime.codec import OversizePayload


def encoded_event(data: list[object]) -> bytes:
    packed: bytes = msgpack.packb({"type": 2, "nsp": "/", "data": data, "id": 1})
    return packed


def test_browser_binary_arrives_as_bytes() -> None:
    packet_class = codec.packet_class(max_event_bytes=1024)
    browser_bytes = msgpack.ExtType(0, b"\x00\xffstroke")
    packet = packet_class(encoded_packet=encoded_event(["board.op", {"blob": browser_bytes}]))
    assert packet.data == ["board.op", {"blob": b"\x00\xffstroke"}]
    other = packet_class(encoded_packet=encoded_event(["x", msgpack.ExtType(5, b"z")]))
    assert other.data[1] == msgpack.ExtType(5, b"z")


def test_an_oversize_event_keeps_its_name_and_loses_its_payload() -> None:
    packet_class = codec.packet_class(max_event_bytes=100)
    packet = packet_class(encoded_packet=encoded_event(["chat.send", {"text": "x" * 500}]))
    assert packet.data[0] == "chat.send"
    assert isinstance(packet.data[1], OversizePayload)
    assert packet.data[1].size > 500
    small = packet_class(encoded_packet=encoded_event(["chat.send", {"text": "hi"}]))
    assert small.data == ["chat.send", {"text": "hi"}]


def test_bus_payloads_round_trip_text_and_bytes() -> None:
    value = ["chat.message", {"text": "Привет", "raw": b"\x00|\x01", "n": 2**40}]
    assert codec.decode(codec.encode(value)) == value
