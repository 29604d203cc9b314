"""The runner keeps polling on a slow database, survives a refused commit, and retries what the
database could not do now instead of dead-lettering it; a batch handler applies a whole poll,
and a batch that fails is applied again one record at a time."""

from collections import namedtuple

from kafka import TopicPartition
from kafka.errors import CommitFailedError
from pymongo.errors import AutoReconnect, OperationFailure

from shared.clock import now
from shared.config import Settings
from shared.consumer import ATTEMPTS_BEFORE_DEAD_LETTER, PROCESSED, ConsumerRunner
from shared.events import encode, new_event

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


class FakeProducer:
    def __init__(self):
        self.dead_letters = []

    def send(self, topic, key, value, headers):
        self.dead_letters.append((topic, dict(headers)["dlq-exception"]))
        return self

    def get(self, timeout):
        return None


def runner(consumer: FakeConsumer, handled: list, failure: Exception | None = None,
           producer: FakeProducer | None = None) -> ConsumerRunner:
    def handle(event):
        handled.append(event.id)
        if failure is not None:
            raise failure
        return PROCESSED

    return ConsumerRunner("unit", Settings(), {"inspection.completed": handle}, topics=("t",),
                          consumer=consumer, producer=producer or FakeProducer())


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


def keeps_failing(failure: Exception) -> tuple[FakeConsumer, FakeProducer]:
    """The same record handled over and over (one attempt per poll), always with ``failure``."""
    consumer, producer = FakeConsumer(), FakeProducer()
    subject = runner(consumer, [], failure, producer)
    [record] = records(1)
    for _ in range(ATTEMPTS_BEFORE_DEAD_LETTER * 3):
        subject._budget_ends = float("inf")
        subject._handle_partition(TP, [record])
        if producer.dead_letters:
            break
    return consumer, producer


def test_an_unreachable_database_is_retried_for_as_long_as_it_lasts_and_never_dead_lettered():
    consumer, producer = keeps_failing(AutoReconnect("connection refused"))
    assert producer.dead_letters == [] and consumer.committed == []
    assert set(consumer.sought) == {(TP, 0)}


def test_ferretdb_without_its_storage_is_the_database_away_too_not_a_poison_record():
    # FerretDB answers InternalError (code 1) to everything while PostgreSQL is unreachable.
    storage_away = OperationFailure("failed to connect to `user=postgres database=ferretdb`",
                                    code=1)
    consumer, producer = keeps_failing(storage_away)
    assert producer.dead_letters == [] and consumer.committed == []


def test_an_error_the_database_will_repeat_is_dead_lettered_after_a_few_attempts():
    consumer, producer = keeps_failing(OperationFailure("bad value", code=2))
    assert producer.dead_letters == [("t.dlq", b"OperationFailure")]
    assert consumer.committed == [{TP: 1}]


def batch_runner(consumer: FakeConsumer, applied: list, failure: Exception | None = None,
                 producer: FakeProducer | None = None, leave: set | None = None
                 ) -> ConsumerRunner:
    """``leave``: positions the batch handler leaves to one at a time (answers None for)."""
    def handle(event):
        applied.append(("one", event.id))
        return PROCESSED

    def handle_all(batch):
        if failure is not None:
            raise failure
        kept = [(event, position) for event, position in batch
                if position not in (leave or set())]
        applied.extend(("batch", event.id, position) for event, position in kept)
        return [None if position in (leave or set()) else PROCESSED for _, position in batch]

    return ConsumerRunner("unit", Settings(), {"inspection.completed": handle}, topics=("t",),
                          consumer=consumer, producer=producer or FakeProducer(),
                          batch_handler=handle_all)


def test_a_batch_handler_applies_the_whole_poll_in_log_order_and_commits_every_partition():
    consumer, applied = FakeConsumer(), []
    other = TopicPartition("t", 1)
    poll = {TP: records(2), other: [r._replace(partition=1) for r in records(3)]}
    assert batch_runner(consumer, applied)._handle_batch(poll) == {TP: 2, other: 3}
    assert [a[2] for a in applied] == [("t", 0, 0), ("t", 0, 1), ("t", 1, 0), ("t", 1, 1),
                                        ("t", 1, 2)]
    assert consumer.committed == [{TP: 2, other: 3}]


def test_a_batch_that_fails_is_left_to_the_records_one_at_a_time():
    consumer, applied = FakeConsumer(), []
    subject = batch_runner(consumer, applied, AutoReconnect("connection refused"))
    assert subject._handle_batch({TP: records(2)}) is None
    assert applied == [] and consumer.committed == []
    assert subject._handle_partition(TP, records(2)) is True
    assert [a[0] for a in applied] == ["one", "one"] and consumer.committed == [{TP: 2}]


def test_a_record_that_does_not_parse_is_dead_lettered_one_at_a_time_after_the_batch():
    consumer, applied, producer = FakeConsumer(), [], FakeProducer()
    good = records(3)
    poll = {TP: [good[0], Record("t", 0, 1, b"i", b"not an event", []), good[2]]}
    subject = batch_runner(consumer, applied, producer=producer)
    assert subject._handle_batch(poll) == {TP: 1}  # what came before it, in the batch
    assert consumer.committed == [{TP: 1}]
    assert subject._handle_partition(TP, poll[TP][1:]) is True
    assert producer.dead_letters == [("t.dlq", b"InvalidEvent")]
    assert [a[0] for a in applied] == ["batch", "one"]
    assert consumer.committed == [{TP: 1}, {TP: 3}]


def test_an_event_the_batch_leaves_is_applied_one_at_a_time_with_the_rest_of_its_partition():
    consumer, applied = FakeConsumer(), []
    other = TopicPartition("t", 1)
    poll = {TP: records(3), other: [r._replace(partition=1) for r in records(2)]}
    subject = batch_runner(consumer, applied, leave={("t", 0, 1)})
    done = subject._handle_batch(poll)
    # Partition 0 stops before the event left; partition 1 is done with in the batch.
    assert done == {TP: 1, other: 2} and consumer.committed == [{TP: 1, other: 2}]
    assert subject._handle_partition(TP, poll[TP][done[TP]:]) is True
    assert [a[0] for a in applied] == ["batch", "batch", "batch", "batch", "one", "one"]
    assert consumer.committed[-1] == {TP: 3}


def test_after_a_poison_record_the_rest_of_the_poll_goes_back_to_a_batch():
    consumer, applied, producer = FakeConsumer(), [], FakeProducer()
    good = records(4)
    poll = {TP: [good[0], Record("t", 0, 1, b"i", b"not an event", []), good[2], good[3]]}
    subject = batch_runner(consumer, applied, producer=producer)
    assert subject._handle_poll(poll) is False
    assert [(a[0], a[2][2]) for a in applied] == [("batch", 0), ("batch", 2), ("batch", 3)]
    assert producer.dead_letters == [("t.dlq", b"InvalidEvent")]
    assert consumer.committed == [{TP: 1}, {TP: 2}, {TP: 4}]


def test_an_event_the_batch_leaves_that_cannot_be_applied_now_holds_its_partition_back():
    consumer = FakeConsumer()
    other = TopicPartition("t", 1)
    poll = {TP: records(3), other: [r._replace(partition=1) for r in records(1)]}

    def handle(event):
        raise AutoReconnect("connection refused")

    subject = ConsumerRunner(
        "unit", Settings(), {"inspection.completed": handle}, topics=("t",), consumer=consumer,
        producer=FakeProducer(),
        batch_handler=lambda batch: [None if p == ("t", 0, 1) else PROCESSED for _, p in batch])
    assert subject._handle_poll(poll) is True  # to be retried
    assert consumer.committed == [{TP: 1, other: 1}]
    assert consumer.sought == [(TP, 1)]  # the next poll starts at the event left, not after it
