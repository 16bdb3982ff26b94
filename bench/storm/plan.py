"""What each virtual student needs: who they are, where to go and when to arrive."""

from __future__ import annotations

from dataclasses import dataclass

CHAT_SENDER_RANK = 0  # the member of each room who sends in the chat phase
AFTER_KILL_SENDER_RANK = 1  # the member who sends one more message after the kill


@dataclass(frozen=True, slots=True)
class Seat:
    """A student's way into their lesson: access token, join link and place in the room."""

    student_id: int
    lesson_id: int
    token: str
    link: str
    rank: int  # position in the class: 0 sends in the chat phase, 1 after the kill


@dataclass(frozen=True, slots=True)
class Arrival:
    seat: Seat
    at: float  # seconds after the start of the storm


@dataclass(frozen=True, slots=True)
class Target:
    """Where students connect: the shared port, or with ``lesson_ports`` the port of the
    worker that holds their lesson (as a balancer routing by lesson would choose)."""

    host: str
    port: int
    lesson_ports: tuple[int, ...] = ()

    def port_for(self, lesson_id: int) -> int:
        if not self.lesson_ports:
            return self.port
        return self.lesson_ports[lesson_id % len(self.lesson_ports)]


@dataclass(frozen=True, slots=True)
class ClientTuning:
    """How virtual students behave: timeouts and reconnect backoff."""

    join_timeout: float = 60.0
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
