"""The circuit of one subscription's endpoint: after several attempts in a row got no answer
(connection refused, reset or timed out), stop sending there for a while, then send one
delivery as a probe; its answer closes the circuit or opens it again for twice as long.

Deliveries held back by an open circuit are not attempted, so they use none of their retry
schedule: nothing is given up because an endpoint was down, and each goes out once it is back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

REFUSALS_TO_OPEN = 5
FIRST_COOL_DOWN = timedelta(seconds=5)
LONGEST_COOL_DOWN = timedelta(minutes=5)


@dataclass
class Circuit:
    refusals: int = 0  # attempts in a row that got no answer
    open_until: datetime | None = None
    cool_down: timedelta = FIRST_COOL_DOWN
    probing: bool = False  # one delivery is out as a probe; nothing else goes until it answers

    def allows(self, now: datetime) -> int | None:
        """How many deliveries may go now: None for no limit (closed), 1 for a probe, 0."""
        if self.open_until is None:
            return None
        return 1 if now >= self.open_until and not self.probing else 0

    def sent(self, now: datetime) -> None:
        """A delivery was claimed for this endpoint."""
        if self.open_until is not None and now >= self.open_until:
            self.probing = True

    def answered(self, answered: bool, now: datetime) -> None:
        """An attempt ended: ``answered`` when the endpoint gave any HTTP answer."""
        if answered:
            self.refusals, self.open_until, self.probing = 0, None, False
            self.cool_down = FIRST_COOL_DOWN
            return
        self.refusals += 1
        if self.probing:
            self.cool_down = min(self.cool_down * 2, LONGEST_COOL_DOWN)
        if self.probing or self.refusals >= REFUSALS_TO_OPEN:
            self.open_until, self.probing = now + self.cool_down, False

    @property
    def is_open(self) -> bool:
        return self.open_until is not None
