"""What one load worker counts while its students run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    joined: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    join_samples: list[tuple[float, float]] = field(default_factory=list)  # (at, ms)
    deliveries: int = 0
    delivery_ms: list[float] = field(default_factory=list)
    chat_sent: int = 0
    chat_failed: Counter[str] = field(default_factory=Counter)
    duplicated: int = 0  # a chat message id applied twice
    wire_repeats: int = 0  # an offset received again (dropped by the offset check)
    reloads: int = 0
    drops_before_kill: int = 0
    dropped: int = 0
    resumed: int = 0
    reconnect_errors: Counter[str] = field(default_factory=Counter)
    join_waits: int = 0  # first joins refused as overloaded and asked again later
    rejoin_waits: int = 0  # the same for joins after a dropped connection
    last_back_at: float = 0.0
    after_sent: int = 0
    after_done: int = 0  # after-kill senders finished, whether they got through or not
    after_received: int = 0
    leaving: int = 0  # students told to leave when the lesson ended (connected then)
    left: int = 0  # of them, those done leaving (the close handshake done or given up)
    gone_before_leaving: int = 0  # dropped between the end of the lesson and their turn

    def progress(self) -> dict[str, int]:
        return {
            "joined": self.joined,
            "failed": sum(self.failed.values()),
            "deliveries": self.deliveries,
            "chat_sent": self.chat_sent,
            "dropped": self.dropped,
            "resumed": self.resumed,
            "after_sent": self.after_sent,
            "after_done": self.after_done,
            "after_received": self.after_received,
            "leaving": self.leaving,
            "left": self.left,
        }
