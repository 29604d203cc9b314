"""The change log: every change of an aggregate is a document of its own, inserted once.

A service keeps two collections per aggregate type. ``changes`` receives one insert per change,
``_id = "<aggregate id>:<version>"``, holding the aggregate's new full state and the events the
change causes (its outbox, ``shared.outbox.new_document``). ``current`` holds the latest state
of each aggregate, for queries; it is brought up to date after the insert.

Why not update one document in place: FerretDB 1.24 applies an update as a read followed by a
write of the whole document, with no lock, so two updates of one document at the same moment can
silently lose one of them. Measured: 4 threads x 300 ``$inc`` on one document ended at 209, not
600; version-guarded compare-and-set updates reported 592 successes while the version advanced
only 218; ``find_one_and_update`` is no better. The outbox relay clearing sent events from a
document a request was changing lost that request's change. Inserts under a unique ``_id`` are
safe there, because the unique index is real: the insert is the write that counts, and the
optimistic-concurrency guard (one winner per version). On MongoDB it is simply a safe and
auditable design: every change of an aggregate is kept, with who did what and which events
left, and nothing is ever deleted.

The rules that make it hold:

- A change is decided on the state at version ``v`` and recorded at ``v + 1``, never further:
  two writers that read the same version race for the same ``_id`` and one of them loses
  (``record`` answers False; re-read, decide again).
- Only the outbox relay ever updates a change document, to take out the events it published.
- Only ``record`` (after its insert) and ``get`` (healing) write ``current``, and only with a
  newer version. ``get`` looks for changes after the current state by ``_id`` (a lookup FerretDB
  serves from its index), so a crash between the insert and the update of ``current`` loses
  nothing: the next read by id finds the newer change and writes it to ``current``.
- On FerretDB the guarded update of ``current`` is itself a read then a write, so under
  concurrent writes of one aggregate its ``current`` document can lag a moment behind; a read
  by id is always right, and it heals the lag.

A consumer applies a whole poll in a few round trips (``current_of``, ``record_many``): it
decides on the current states as ``current`` has them, without looking for newer changes. That
is safe because the guard is the insert: a state that was behind makes its change collide with
the change already recorded at that version, the change is refused, and the event is applied
again one at a time, through ``get``, which heals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared import mongo, outbox

STATE = "state"
INSERT_CHUNK = 1000


def change_id(aggregate_id: str, version: int) -> str:
    return f"{aggregate_id}:{version}"


def change_document(key: str, state: dict, events: list[dict]) -> dict:
    """The insert that records ``state`` (which carries ``_id`` and ``version``) and the events
    its change causes; ``key`` names the field holding the aggregate id."""
    return outbox.new_document(
        {"_id": change_id(state["_id"], state["version"]), key: state["_id"],
         "version": state["version"], STATE: state},
        events)


def current_fields(state: dict) -> dict:
    """What the current-state document is set to: the state, less its id."""
    return {name: value for name, value in state.items() if name != "_id"}


class ChangeLog:
    """One aggregate type's changes (``changes``) and current states (``current``) in ``db``.

    ``key`` is the field of a change naming its aggregate; ``first_version`` the version an
    aggregate is created at.
    """

    def __init__(self, db: Database, current: str, changes: str, *, key: str,
                 first_version: int = 1):
        self.current = db[current]
        self.changes = db[changes]
        self.key = key
        self.first_version = first_version

    def ensure_indexes(self) -> None:
        mongo.ensure_indexes(self.changes, [IndexModel([(self.key, ASCENDING),
                                                        ("version", ASCENDING)])])
        outbox.register(self.changes)

    def get(self, aggregate_id: str) -> dict | None:
        """The aggregate's latest state, or None; a newer change than ``current`` wins (and is
        written to ``current``)."""
        doc = self.current.find_one({"_id": aggregate_id})
        state = doc
        version = doc["version"] if doc else self.first_version - 1
        while newer := self.changes.find_one({"_id": change_id(aggregate_id, version + 1)},
                                             {STATE: 1}):
            state, version = newer[STATE], version + 1
        if state is not doc:
            self._keep_current(state)
        return state

    def at(self, aggregate_id: str, version: int) -> dict | None:
        """The state recorded at ``version``, or None."""
        change = self.changes.find_one({"_id": change_id(aggregate_id, version)}, {STATE: 1})
        return change[STATE] if change else None

    def history(self, aggregate_id: str) -> list[dict]:
        """Every change recorded of the aggregate, oldest first (state, outbox and all)."""
        return sorted(self.changes.find({self.key: aggregate_id}),
                      key=lambda change: change["version"])

    def record(self, state: dict, events: list[dict]) -> bool:
        """Record ``state`` at its version with the events it causes; False when that version
        was recorded already (somebody changed the aggregate first, or it exists)."""
        try:
            self.changes.insert_one(change_document(self.key, state, events))
        except DuplicateKeyError:
            return False
        self._keep_current(state)
        return True

    def current_of(self, aggregate_ids: Iterable[str]) -> dict[str, dict]:
        """The states ``current`` holds of many aggregates (those it has), as they are: a moment
        behind at worst, which ``record_many`` then refuses. One read by id each, a few at
        once, not one ``$in``: FerretDB hands PostgreSQL no ``$in``, so that would read the
        whole collection (docs/performance.md)."""
        ids = list(dict.fromkeys(aggregate_ids))
        docs = mongo.concurrently(lambda id_: self.current.find_one({"_id": id_}), ids)
        return {doc["_id"]: doc for doc in docs if doc is not None}

    def record_many(self, batch: Sequence[tuple[dict, list[dict]]]) -> list[bool]:
        """Record many changes as ``record`` would, in a few writes; answer for each whether it
        was recorded. The changes of one aggregate come in version order, each decided on the
        one before; a change whose predecessor was refused is refused too, untried.

        The k-th change of every aggregate goes in the k-th unordered ``insert_many`` (one
        PostgreSQL commit on FerretDB, where one insert each is a commit each), so no change is
        recorded after one refused; then ``current`` is set to each aggregate's last recorded
        state, one update each, a few at once (distinct documents)."""
        recorded = [False] * len(batch)
        rounds: list[list[int]] = []
        seen: dict[str, int] = {}
        for n, (state, _) in enumerate(batch):
            k = seen[state["_id"]] = seen.get(state["_id"], -1) + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(n)
        refused: set[str] = set()
        for positions in rounds:
            tried = [n for n in positions if batch[n][0]["_id"] not in refused]
            left = mongo.insert_new(self.changes, [change_document(self.key, *batch[n])
                                                   for n in tried])
            for i, n in enumerate(tried):
                if i in left:
                    refused.add(batch[n][0]["_id"])
                else:
                    recorded[n] = True
        latest = {batch[n][0]["_id"]: batch[n][0] for n in range(len(batch)) if recorded[n]}
        mongo.concurrently(self._keep_current, latest.values())
        return recorded

    def record_new(self, batch: Iterable[tuple[dict, list[dict]]]) -> None:
        """Record many new aggregates at once (an import), their first changes, then their
        current states. One already recorded (an earlier attempt of the same import) is kept
        as it is."""
        batch = list(batch)
        for start in range(0, len(batch), INSERT_CHUNK):
            chunk = batch[start:start + INSERT_CHUNK]
            mongo.insert_new(self.changes, [change_document(self.key, state, events)
                                            for state, events in chunk])
            mongo.insert_new(self.current, [dict(state) for state, _ in chunk])

    def _keep_current(self, state: dict) -> None:
        # A state as new or newer already there makes the filter miss and the upsert collide
        # with its id: it stays.
        with contextlib.suppress(DuplicateKeyError):
            self.current.update_one({"_id": state["_id"], "version": {"$lt": state["version"]}},
                                    {"$set": current_fields(state)}, upsert=True)

