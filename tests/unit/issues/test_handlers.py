"""The use cases on a fake repository: what is saved, what is published, what is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.issues import handlers
from services.issues.domain.model import NotPermitted
from shared.consumer import DUPLICATE, PROCESSED, PermanentError
from shared.events import encode, new_event, parse
from tests.unit.issues.builders import (
    CITY,
    KEQIAO_ADMIN,
    YUECHENG,
    YUECHENG_ADMIN,
    closed_item,
    new_item,
)
from tests.unit.issues.fakes import FakeItemRepository

NEW = handlers.NewItem(county=YUECHENG, township="灵芝镇", village="大善村", problem="问题",
                       measure="措施", deadline=date(2027, 6, 30), responsible="李某某")


@pytest.fixture
def repo() -> FakeItemRepository:
    return FakeItemRepository()


def inspection_event(type_: str, item_id: str = "", *, observed_at: datetime | None = None,
                     **data):
    """An inspections event as the consumer receives it (built and parsed like a real one)."""
    observed_at = observed_at or datetime.now(UTC)
    if type_ == "inspection.problem_found":
        body = {"inspection_id": "insp-9", "county": YUECHENG, "township": "灵芝镇",
                "village": "张市村", "problem": "新发现问题", "measure": "限期整改",
                "found_at": observed_at, **data}
        subject = "insp-9"
    else:
        body = {"inspection_id": "insp-9", "item_id": item_id, "target_county": YUECHENG,
                "outcome": "fail" if type_.endswith("failed") else "pass",
                "findings": "整改不到位", "observed_at": observed_at, **data}
        subject = "insp-9"
    return parse(encode(new_event(type_, subject=subject, county=YUECHENG, data=body)))


def test_creating_an_item_saves_it_and_publishes_issue_created_with_its_snapshot(repo):
    item, created = handlers.create_item(repo, NEW, YUECHENG_ADMIN)
    assert created and repo.get(item.id).status == "open"
    [event] = repo.published
    assert event["type"] == "issue.created" and event["subject"] == item.id
    assert event["county"] == YUECHENG and event["itemversion"] == 1
    assert event["data"]["item"]["deadline"] == "2027-06-30"


def test_the_same_idempotency_key_and_body_answers_the_first_item_and_creates_nothing(repo):
    first, _ = handlers.create_item(repo, NEW, YUECHENG_ADMIN, item_id="k1", fingerprint="f")
    again, created = handlers.create_item(repo, NEW, YUECHENG_ADMIN, item_id="k1",
                                          fingerprint="f")
    assert not created and again.id == first.id
    assert len(repo.items) == 1 and len(repo.published) == 1


def test_the_same_idempotency_key_with_another_body_is_refused(repo):
    handlers.create_item(repo, NEW, YUECHENG_ADMIN, item_id="k1", fingerprint="f")
    with pytest.raises(handlers.IdempotencyMismatch):
        handlers.create_item(repo, NEW, YUECHENG_ADMIN, item_id="k1", fingerprint="g")


def test_a_county_admin_cannot_create_in_another_county_and_nothing_is_saved(repo):
    with pytest.raises(NotPermitted):
        handlers.create_item(repo, NEW, KEQIAO_ADMIN)
    assert repo.items == {} and repo.published == []


def test_a_transition_on_a_stale_version_is_refused_and_changes_nothing(repo):
    item, _ = handlers.create_item(repo, NEW, YUECHENG_ADMIN)
    handlers.transition_item(repo, item.id, "in_progress", YUECHENG_ADMIN, expected_version=1)
    with pytest.raises(handlers.StaleVersion):
        handlers.transition_item(repo, item.id, "pending_verification", YUECHENG_ADMIN,
                                 expected_version=1, evidence=["e"])
    assert repo.get(item.id).status == "in_progress"


def test_closing_publishes_status_changed_and_closed_at_the_new_version(repo):
    item, _ = handlers.create_item(repo, NEW, CITY)
    handlers.transition_item(repo, item.id, "in_progress", CITY, expected_version=1)
    handlers.transition_item(repo, item.id, "pending_verification", CITY, expected_version=2,
                             evidence=["e"])
    handlers.transition_item(repo, item.id, "closed", CITY, expected_version=3)
    last = repo.published[-2:]
    assert [e["type"] for e in last] == ["issue.status_changed", "issue.closed"]
    assert {e["itemversion"] for e in last} == {4}
    assert last[0]["data"]["from"] == "pending_verification"


def test_a_failed_check_event_reopens_a_closed_item_once(repo):
    item = closed_item(at=datetime.now(UTC) - timedelta(days=1))
    repo.items[item.id] = item
    event = inspection_event("inspection.check_failed", item.id)
    assert handlers.apply_check(repo, event, reopen_deadline_days=30) == PROCESSED
    assert handlers.apply_check(repo, event, reopen_deadline_days=30) == DUPLICATE
    stored = repo.get(item.id)
    assert stored.status == "reopened" and stored.reopen_count == 1
    assert [e["type"] for e in repo.published] == ["issue.reopened", "issue.status_changed"]
    assert repo.published[0]["data"]["inspection_id"] == "insp-9"


class OvertakenRepository(FakeItemRepository):
    """Before the first save, another writer records ``overtake`` on the item: that save loses."""

    def __init__(self, overtake):
        super().__init__()
        self.overtake = overtake

    def save(self, item, events) -> bool:
        if self.overtake is not None:
            overtake, self.overtake = self.overtake, None
            overtake(self)
        return super().save(item, events)


def test_of_two_consumers_racing_on_one_check_the_loser_reads_again_and_reports_a_duplicate():
    event = inspection_event("inspection.check_failed")
    repo = OvertakenRepository(lambda other: handlers.apply_check(
        other, event, reopen_deadline_days=30))
    item = closed_item(at=datetime.now(UTC) - timedelta(days=1))
    repo.items[item.id] = item
    event.data["item_id"] = item.id
    assert handlers.apply_check(repo, event, reopen_deadline_days=30) == DUPLICATE
    assert repo.get(item.id).reopen_count == 1
    assert [e["type"] for e in repo.published] == ["issue.reopened", "issue.status_changed"]


def test_a_check_that_loses_to_another_change_is_decided_again_on_the_new_version():
    item = closed_item(at=datetime.now(UTC) - timedelta(days=1))
    other = inspection_event("inspection.check_passed", item.id)
    repo = OvertakenRepository(lambda it: handlers.apply_check(it, other,
                                                               reopen_deadline_days=30))
    repo.items[item.id] = item
    event = inspection_event("inspection.check_passed", item.id)
    assert handlers.apply_check(repo, event, reopen_deadline_days=30) == PROCESSED
    stored = repo.get(item.id)
    assert stored.version == item.version + 2
    assert stored.processed_events[-2:] == [other.id, event.id]


def test_a_check_of_an_unknown_item_goes_to_the_dead_letter_topic(repo):
    with pytest.raises(PermanentError):
        handlers.apply_check(repo, inspection_event("inspection.check_failed", "nope"),
                             reopen_deadline_days=30)


def test_a_passed_check_is_noted_without_events(repo):
    item = closed_item(at=datetime.now(UTC) - timedelta(days=1))
    repo.items[item.id] = item
    event = inspection_event("inspection.check_passed", item.id)
    assert handlers.apply_check(repo, event, reopen_deadline_days=30) == PROCESSED
    assert repo.get(item.id).history[-1]["cause"] == "inspection.check_passed"
    assert repo.published == []


def test_a_problem_found_on_site_becomes_an_item_once(repo):
    event = inspection_event("inspection.problem_found",
                             observed_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    assert handlers.create_from_problem(repo, event, deadline_days=30) == PROCESSED
    assert handlers.create_from_problem(repo, event, deadline_days=30) == DUPLICATE
    [item] = repo.items.values()
    assert item.inspection_id == "insp-9" and item.deadline == date(2026, 12, 20)
    [created] = repo.published
    assert created["type"] == "issue.created" and created["data"]["inspection_id"] == "insp-9"


def test_a_problem_found_in_an_unknown_county_goes_to_the_dead_letter_topic(repo):
    event = inspection_event("inspection.problem_found", county="999999")
    with pytest.raises(PermanentError):
        handlers.create_from_problem(repo, event, deadline_days=30)


def test_the_overdue_scan_announces_each_overdue_item_once(repo):
    past = new_item(deadline=date(2020, 1, 31))
    repo.items[past.id] = past
    future = new_item(deadline=date(2999, 1, 1))
    repo.items[future.id] = future
    now = datetime.now(UTC)
    assert handlers.announce_overdue(repo, at=now) == 1
    assert handlers.announce_overdue(repo, at=now) == 0
    [event] = repo.of_type("issue.overdue")
    assert event["subject"] == past.id and event["data"]["deadline"] == "2020-01-31"
    assert repo.get(past.id).overdue_count == 1


def rows(*villages: str) -> list[tuple[int, handlers.NewItem]]:
    return [(n, handlers.NewItem(**{**vars(NEW), "village": v}))
            for n, v in enumerate(villages, start=2)]


def test_an_import_creates_the_good_rows_and_reports_the_bad_ones(repo):
    outcome = handlers.import_items(repo, rows("甲村", "乙村"), YUECHENG_ADMIN,
                                    refused={4: {"完成时间": ["bad"]}}, atomic=False,
                                    id_for_row=lambda _: str(uuid.uuid4()))
    assert outcome.written and sorted(outcome.created) == [2, 3]
    assert set(outcome.refused) == {4} and len(repo.items) == 2


def test_an_atomic_import_with_a_bad_row_writes_nothing(repo):
    outcome = handlers.import_items(repo, rows("甲村", "乙村"), YUECHENG_ADMIN,
                                    refused={4: {"完成时间": ["bad"]}}, atomic=True,
                                    id_for_row=lambda _: str(uuid.uuid4()))
    assert not outcome.written and repo.items == {} and repo.published == []


def test_rows_of_another_county_are_refused_row_by_row(repo):
    keqiao = [(2, handlers.NewItem(**{**vars(NEW), "county": "330603"}))]
    outcome = handlers.import_items(repo, rows("甲村") + [(3, keqiao[0][1])], YUECHENG_ADMIN,
                                    refused={}, atomic=False,
                                    id_for_row=lambda _: str(uuid.uuid4()))
    assert list(outcome.created) == [2] and list(outcome.refused) == [3]
    assert "county" in outcome.refused[3]


def test_an_import_sent_again_under_its_key_adds_nothing(repo):
    def same_ids(row: int) -> str:
        return f"key-{row}"

    for _ in range(2):
        handlers.import_items(repo, rows("甲村", "乙村"), YUECHENG_ADMIN, refused={},
                              atomic=False, id_for_row=same_ids, import_id="key",
                              fingerprint="file-1")
    assert len(repo.items) == 2 and len(repo.published) == 2
    with pytest.raises(handlers.IdempotencyMismatch):
        handlers.import_items(repo, rows("丙村"), YUECHENG_ADMIN, refused={}, atomic=False,
                              id_for_row=same_ids, import_id="key", fingerprint="file-2")


def test_another_countys_item_is_not_found_for_a_transition(repo):
    item, _ = handlers.create_item(repo, NEW, YUECHENG_ADMIN)
    with pytest.raises(handlers.ItemNotFound):
        handlers.transition_item(repo, item.id, "in_progress", KEQIAO_ADMIN, expected_version=1)
    assert repo.get(item.id).version == 1
