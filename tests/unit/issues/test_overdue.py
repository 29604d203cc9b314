"""Overdue: an item past its deadline and not closed is announced once per deadline."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.issues.builders import closed_item, failed_check, later, new_item


def test_an_item_past_its_deadline_is_announced_once():
    item = new_item()
    after = item.deadline + timedelta(days=1)
    changes = item.announce_overdue(after, later(1))
    assert [c.type for c in changes] == ["issue.overdue"]
    assert changes[0].data["deadline"] == item.deadline
    assert item.overdue_count == 1 and item.overdue_announced_for == item.deadline
    assert item.announce_overdue(after + timedelta(days=5), later(2)) == []
    assert item.overdue_count == 1


def test_an_item_not_yet_past_its_deadline_is_not_announced():
    item = new_item()
    assert item.announce_overdue(item.deadline, later(1)) == []
    assert item.overdue_count == 0 and item.version == 1


def test_a_closed_item_is_never_overdue():
    item = closed_item()
    assert item.announce_overdue(item.deadline + timedelta(days=30), later(1)) == []


def test_the_new_deadline_of_a_reopened_item_can_be_announced_again():
    item = new_item()
    item.announce_overdue(item.deadline + timedelta(days=1), later(1))
    closed = closed_item()
    closed.announce_overdue(closed.deadline + timedelta(days=1), later(1))
    closed.apply_check(failed_check(later(5)), at=later(6), reopen_deadline_days=30)
    assert closed.overdue_announced_for is None
    changes = closed.announce_overdue(closed.deadline + timedelta(days=1), later(7))
    assert [c.type for c in changes] == ["issue.overdue"]
