"""The circuit of one subscription's endpoint: after several attempts in a row got no answer
(connection refused, reset or timed out), stop sending there for a while, then probe the
endpoint with a bare connection; a connection closes the circuit, none opens it again for twice
as long.

Deliveries held back by an open circuit are not attempted, so they use none of their retry
schedule: nothing is given up because an endpoint was down, and each goes out once it is back.
A probe costs no delivery and no read of the subscription's backlog.
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
    probing: bool = False  # a probe is out; no other until it is back

    @property
    def is_open(self) -> bool:
        return self.open_until is not None

    def allows(self) -> bool:
        """Whether deliveries may go to the endpoint: only while the circuit is closed."""
        return not self.is_open

    def probe_due(self, now: datetime) -> bool:
        return self.is_open and now >= self.open_until and not self.probing

    def answered(self, answered: bool, now: datetime) -> None:
        """An attempt ended: ``answered`` when the endpoint gave any HTTP answer."""
        if answered:
            self._close()
            return
        self.refusals += 1
        if not self.is_open and self.refusals >= REFUSALS_TO_OPEN:
            self.open_until = now + self.cool_down

    def probed(self, connected: bool, now: datetime) -> None:
        """A probe came back: the endpoint took a connection, or not."""
        self.probing = False
        if connected:
            self._close()
        else:
            self.cool_down = min(self.cool_down * 2, LONGEST_COOL_DOWN)
            self.open_until = now + self.cool_down

    def _close(self) -> None:
        self.refusals, self.open_until, self.probing = 0, None, False
        self.cool_down = FIRST_COOL_DOWN
