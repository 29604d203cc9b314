"""The runner keeps polling on a slow database and survives a refused commit."""

from collections import namedtuple

from kafka import TopicPartition
from kafka.errors import CommitFailedError

from shared.config import Settings
from shared.consumer import PROCESSED, ConsumerRunner
from shared.events import encode, new_event, now

Record = namedtuple("Record", "topic partition offset key value headers")
TP = TopicPartition("t", 0)


class FakeConsumer:
    def __init__(self, refuse_commit: bool = False):
        self.sought, self.committed, self.refuse_commit = [], [], refuse_commit

    def seek(self, tp, offset):
        self.sought.append((tp, offset))

    def commit(self, offsets):
        if self.refuse_commit:
            raise CommitFailedError("kicked out of the group")
        self.committed.append({tp: o.offset for tp, o in offsets.items()})


def records(n: int) -> list[Record]:
    event = new_event("inspection.completed", subject="i", county="330603",
                      data={"inspection_id": "i", "target_county": "330603", "checks": 1,
                            "passed": 1, "failed": 0, "new_problems": 0, "completed_at": now()})
    return [Record("t", 0, offset, b"i", encode(event), []) for offset in range(n)]


def runner(consumer: FakeConsumer, handled: list) -> ConsumerRunner:
    def handle(event):
        handled.append(event.id)
        return PROCESSED

    return ConsumerRunner("unit", Settings(), {"inspection.completed": handle}, topics=("t",),
                          consumer=consumer, producer=object())


def test_handling_stops_at_the_time_budget_and_resumes_from_the_next_record():
    consumer, handled = FakeConsumer(), []
    subject = runner(consumer, handled)
    subject._budget_ends = float("-inf")  # the budget is spent before the first record
    assert subject._handle_partition(TP, records(3)) is True
    assert handled == [] and consumer.sought == [(TP, 0)] and consumer.committed == []


def test_records_within_the_budget_are_handled_and_committed():
    consumer, handled = FakeConsumer(), []
    assert runner(consumer, handled)._handle_partition(TP, records(3)) is True
    assert len(handled) == 3 and consumer.committed == [{TP: 3}]


def test_a_commit_refused_after_a_rebalance_does_not_stop_the_consumer():
    consumer, handled = FakeConsumer(refuse_commit=True), []
    assert runner(consumer, handled)._handle_partition(TP, records(2)) is True
    assert len(handled) == 2
