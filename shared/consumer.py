"""The consumer runner: one group per service, at-least-once in, exactly-once in effect.

Offsets are committed only after the handler succeeded, and handlers are idempotent on the
event id (an item keeps the ids of the events applied to it, an event store inserts each under
its id), so a crash anywhere re-delivers and changes nothing twice. A record that cannot be
parsed, fails its schema, or fails for good goes to the topic's ``.dlq`` twin with the reason,
the original key, value and headers, and the consumer moves on.
A service may also apply all the records of one poll in one go (a batch handler: a few writes
for the lot instead of a few for each event). If the batch fails, the runner applies the same
records one at a time as above, so a failure is retried or dead-lettered exactly as without it;
an event the batch handler leaves (None), or a record that does not parse, is applied one at a
time with everything after it on its partition, so order holds and only what needs it takes
the slow path.
A transient failure (database down) is retried from the same offset with backoff, never skipped;
the backoff is short and the poll loop keeps turning, so the group never evicts us for it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from shared import logging as slog
from shared import mongo, process
from shared.clock import now
from shared.config import Settings
from shared.events import Event, InvalidEvent, dlq_topic, parse
from shared.kafka import consumer as make_consumer
from shared.kafka import producer as make_producer
from shared.metrics import CONSUMER_LAG, EVENT_HANDLING, EVENT_LAG, EVENTS_CONSUMED

log = logging.getLogger(__name__)

PROCESSED, DUPLICATE, IGNORED = "processed", "duplicate", "ignored"
# A handler applies one event and says what happened: PROCESSED or DUPLICATE.
Handler = Callable[[Event], str]
# Where the record in hand sits in the log (topic, partition, offset), for a handler that keeps
# its own copy of the log in order (the notifications feed pages by partition offsets).
# Applies many events at once, each with its place in the log, and says what happened to each,
# in the same order: PROCESSED, DUPLICATE, or None for one it leaves to its Handler (the runner
# then handles it and the rest of its partition one at a time). Idempotent like a Handler: a
# batch applied half-way is completed by the records applied again one at a time.
BatchHandler = Callable[[list[tuple[Event, tuple[str, int, int]]]], list[str | None]]
record_position: contextvars.ContextVar[tuple[str, int, int] | None] = contextvars.ContextVar(
    "record_position", default=None)


class PermanentError(Exception):
    """This event can never be applied (say, it names an item that cannot exist): dead-letter it."""


class TransientError(Exception):
    """Try the same event again later (a dependency is down)."""


BATCH_TIME_BUDGET = 10.0  # seconds of handling between two polls
ATTEMPTS_BEFORE_DEAD_LETTER = 3  # for unexpected errors: a bug must not block the partition


class ConsumerRunner:
    def __init__(self, service: str, settings: Settings, handlers: dict[str, Handler], *,
                 topics: tuple[str, ...], group_id: str | None = None,
                 consumer: KafkaConsumer | None = None, producer: KafkaProducer | None = None,
                 max_backoff: float = 5.0, batch_handler: BatchHandler | None = None):
        self.service = service
        self.handlers = handlers
        self.batch_handler = batch_handler
        # The topic prefix keeps the groups of deployments sharing one broker apart.
        self.group_id = group_id or f"{settings.topic_prefix}{service}-consumer"
        self.consumer = consumer or make_consumer(
            settings, self.group_id, topics, client_id=f"{service}-consumer")
        self.producer = producer or make_producer(settings, client_id=f"{service}-dlq")
        self.max_backoff = max_backoff
        self.stop = threading.Event()
        self._failures: dict[tuple[str, int, int], int] = {}
        self._lag_checked = 0.0
        self._budget_ends = float("inf")

    def run(self) -> None:
        log.info("consumer started", extra={"group": self.group_id})
        backoff = 0.1
        try:
            while not self.stop.is_set():
                batch = self.consumer.poll(timeout_ms=500)
                retry = False
                # A slow database must not keep us from polling: stop handling at the time
                # budget and come back to the rest, well before max_poll_interval_ms runs out.
                self._budget_ends = time.monotonic() + BATCH_TIME_BUDGET
                retry = self._handle_poll(batch)
                if retry:
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                else:
                    backoff = 0.1
                self._report_lag()
        finally:
            self.consumer.close(autocommit=False)  # leaves the group at once
            self.producer.close(timeout=10)
            log.info("consumer stopped", extra={"group": self.group_id})

    def _handle_poll(self, batch: dict) -> bool:
        """Handle a poll, in batches where a batch handler is given; True if a record must be
        retried. The record a batch leaves is handled alone, then the rest of its partition
        goes back to a batch: one poison record does not send a whole poll one at a time."""
        retry = False
        while batch:
            done = self._handle_batch(batch)
            left = {}
            for tp, records in batch.items():
                rest = records[(done or {}).get(tp, 0):]
                if not rest:
                    continue
                if done is None or time.monotonic() > self._budget_ends:
                    retry |= not self._handle_partition(tp, rest)
                elif self._handle(rest[0]):
                    self._commit({tp: rest[0].offset + 1})
                    if len(rest) > 1:
                        left[tp] = rest[1:]
                else:
                    self.consumer.seek(tp, rest[0].offset)  # nothing after it runs first
                    retry = True
            batch = left
        return retry

    def _handle_batch(self, batch: dict) -> dict[TopicPartition, int] | None:
        """Apply the poll with the batch handler and commit what it applied; answer how many
        leading records of each partition are done with, or None when no batch was applied."""
        if self.batch_handler is None or not batch or self.stop.is_set():
            return None
        parsed: dict[TopicPartition, list[Event]] = {}
        for tp, records in batch.items():
            parsed[tp] = []
            for record in records:
                try:
                    parsed[tp].append(parse(record.value))
                except InvalidEvent:
                    break  # dead-lettered one at a time, after what came before it
        # zip stops at a partition's first record that did not parse.
        wanted = [(event, self._position(record)) for tp, records in batch.items()
                  for record, event in zip(records, parsed[tp], strict=False)
                  if event.type in self.handlers]
        started = time.perf_counter()
        try:
            outcomes = self.batch_handler(wanted) if wanted else []
        except Exception as exc:  # noqa: BLE001 — one at a time, each failure as it deserves
            log.warning("batch not applied; applying its records one at a time",
                        extra={"records": len(wanted), "error": f"{type(exc).__name__}: {exc}"})
            return None
        each = (time.perf_counter() - started) / max(len(wanted), 1)
        outcome_at = {position: outcome for (_, position), outcome
                      in zip(wanted, outcomes, strict=True)}
        done: dict[TopicPartition, int] = {}
        for tp, records in batch.items():
            count = 0
            for record, event in zip(records, parsed[tp], strict=False):
                if event.type not in self.handlers:
                    EVENTS_CONSUMED.labels(self.service, event.type, IGNORED).inc()
                elif (outcome := outcome_at[self._position(record)]) is not None:
                    self._observe(event, outcome, each)
                else:
                    break
                count += 1
            if count:
                done[tp] = count
        if done:
            self._commit({tp: batch[tp][count - 1].offset + 1 for tp, count in done.items()})
        return done

    def _handle_partition(self, tp: TopicPartition, records) -> bool:
        """Handle records in order; commit what succeeded. False if one must be retried."""
        next_offset = None
        ok = True
        for record in records:
            if self.stop.is_set():
                break
            if time.monotonic() > self._budget_ends:
                self.consumer.seek(tp, record.offset)  # the rest on the next poll
                break
            if not self._handle(record):
                # Come back to this very record on the next poll; nothing after it runs first.
                self.consumer.seek(tp, record.offset)
                ok = False
                break
            next_offset = record.offset + 1
        if next_offset is not None:
            self._commit({tp: next_offset})
        return ok

    def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            self.consumer.commit({tp: OffsetAndMetadata(offset, "", -1)
                                  for tp, offset in offsets.items()})
        except CommitFailedError as exc:
            # The group moved the partitions on; their new owner re-reads these records and
            # finds them applied already (handlers are idempotent), so nothing is lost.
            log.warning("offset commit refused after a rebalance",
                        extra={"partitions": sorted(f"{tp.topic}:{tp.partition}"
                                                    for tp in offsets),
                               "error": str(exc)})

    def _observe(self, event: Event, outcome: str, seconds: float) -> None:
        EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
        EVENT_HANDLING.labels(self.service, event.type).observe(seconds)
        if outcome == PROCESSED:
            EVENT_LAG.labels(self.service, event.type).observe(
                max((now() - event.time).total_seconds(), 0))

    def _handle(self, record) -> bool:
        """True once the record is done with (applied, duplicate, ignored or dead-lettered)."""
        try:
            event = parse(record.value)
        except InvalidEvent as exc:
            return self._dead_letter(record, "unknown", str(exc), exc)
        token = slog.event_id.set(event.id)
        position_token = record_position.set(self._position(record))
        started = time.perf_counter()
        try:
            handler = self.handlers.get(event.type)
            if handler is None:
                EVENTS_CONSUMED.labels(self.service, event.type, IGNORED).inc()
                return True
            outcome = handler(event)
            self._observe(event, outcome, time.perf_counter() - started)
            log.debug("event handled", extra={"type": event.type, "outcome": outcome})
            self._failures.pop(self._position(record), None)
            return True
        except PermanentError as exc:
            return self._dead_letter(record, event.type, str(exc), exc)
        except Exception as exc:  # noqa: BLE001 — an unexpected failure: retry a few times, then DLQ
            if isinstance(exc, TransientError) or mongo.unavailable(exc):
                EVENTS_CONSUMED.labels(self.service, event.type, "retried").inc()
                log.warning("event not applied, will retry",
                            extra={"type": event.type, "error": f"{type(exc).__name__}: {exc}"})
                return False
            position = self._position(record)
            self._failures[position] = self._failures.get(position, 0) + 1
            log.exception("event handler failed", extra={"type": event.type,
                                                         "attempt": self._failures[position]})
            if self._failures[position] >= ATTEMPTS_BEFORE_DEAD_LETTER:
                self._failures.pop(position, None)
                return self._dead_letter(record, event.type, f"{type(exc).__name__}: {exc}", exc)
            EVENTS_CONSUMED.labels(self.service, event.type, "retried").inc()
            return False
        finally:
            slog.event_id.reset(token)
            record_position.reset(position_token)

    @staticmethod
    def _position(record) -> tuple[str, int, int]:
        return record.topic, record.partition, record.offset

    def _dead_letter(self, record, event_type: str, reason: str, exc: Exception) -> bool:
        headers = list(record.headers or []) + [
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self.group_id.encode()),
            ("dlq-exception", type(exc).__name__.encode()),
            ("dlq-reason", reason[:4000].encode()),
        ]
        try:
            self.producer.send(dlq_topic(record.topic), key=record.key, value=record.value,
                               headers=headers).get(timeout=15)
        except KafkaError as err:
            log.error("could not dead-letter a record; will retry it",
                      extra={"error": str(err), "reason": reason})
            return False
        EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
        log.error("record dead-lettered", extra={
            "type": event_type, "reason": reason, "topic": record.topic,
            "partition": record.partition, "offset": record.offset})
        return True

    def _report_lag(self) -> None:
        if time.monotonic() - self._lag_checked < 5:
            return
        self._lag_checked = time.monotonic()
        assigned = self.consumer.assignment()
        if not assigned:
            return
        try:
            ends = self.consumer.end_offsets(list(assigned))
        except KafkaError:
            return
        for tp in assigned:
            try:
                lag = max(ends.get(tp, 0) - self.consumer.position(tp), 0)
            except KafkaError:
                continue
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lag)


def run_consumer(service: str, handlers_for: Callable[[Settings], dict[str, Handler]],
                 topics: tuple[str, ...],
                 batch_handler_for: Callable[[Settings], BatchHandler] | None = None,
                 beside: Callable[[Settings, threading.Event], None] | None = None) -> None:
    """The entry point of a service's consumer process; ``beside`` starts what else the process
    does (given the settings and the event that stops the consumer)."""
    settings = process.start(f"{service}-consumer")
    runner = ConsumerRunner(service, settings, handlers_for(settings),
                            topics=tuple(settings.topic(t) for t in topics),
                            batch_handler=batch_handler_for(settings) if batch_handler_for
                            else None)
    process.stop_on_signals(runner.stop)
    if beside:
        beside(settings, runner.stop)
    runner.run()
