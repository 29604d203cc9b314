"""Rule R (倒逼整改): a failed inspection reopens a closed item, sends a pending one back, and
otherwise adds its finding to the history; late and repeated failures change nothing more."""

from __future__ import annotations

from datetime import date

from tests.unit.issues.builders import (
    CITY,
    YUECHENG_ADMIN,
    closed_item,
    failed_check,
    later,
    new_item,
    passed_check,
)

DAYS = 30


def test_a_failed_check_reopens_a_closed_item_with_a_new_deadline_and_the_findings():
    item = closed_item()
    check = failed_check(later(50), findings="承诺书未公示,整改不到位")
    changes = item.apply_check(check, at=later(52), reopen_deadline_days=DAYS)
    assert item.status == "reopened" and item.reopen_count == 1
    # observed 2026-03-04 (Beijing time) + 30 days
    assert item.deadline == date(2026, 4, 3)
    assert [c.type for c in changes] == ["issue.reopened", "issue.status_changed"]
    assert changes[0].data["inspection_id"] == "insp-1"
    assert changes[0].data["findings"] == "承诺书未公示,整改不到位"
    entry = item.history[-1]
    assert (entry["from"], entry["to"], entry["cause"]) == ("closed", "reopened",
                                                            "inspection.check_failed")
    assert entry["inspection_id"] == "insp-1" and entry["findings"] == "承诺书未公示,整改不到位"
    assert entry["evidence"] == ["现场照片.jpg"] and entry["observed_at"] == later(50)


def test_a_failed_check_sends_a_pending_item_back_to_in_progress():
    item = new_item()
    item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(1))
    item.transition("pending_verification", actor=YUECHENG_ADMIN, at=later(2), evidence=["e"])
    changes = item.apply_check(failed_check(later(3)), at=later(4), reopen_deadline_days=DAYS)
    assert item.status == "in_progress" and item.reopen_count == 0
    assert [c.type for c in changes] == ["issue.status_changed"]
    assert changes[0].data["cause"] == "inspection.check_failed"


def test_a_failed_check_of_an_item_in_any_other_state_adds_the_finding_to_history_only():
    item = new_item()
    before = item.version
    changes = item.apply_check(failed_check(later(3), findings="台账缺失"), at=later(4),
                               reopen_deadline_days=DAYS)
    assert changes == [] and item.status == "open"
    assert item.version == before + 1
    assert item.history[-1]["findings"] == "台账缺失"
    assert item.history[-1]["cause"] == "inspection.check_failed"


def test_a_failure_observed_before_the_last_closure_never_reopens():
    item = closed_item(at=later(10))
    changes = item.apply_check(failed_check(later(9)), at=later(20), reopen_deadline_days=DAYS)
    assert changes == [] and item.status == "closed" and item.reopen_count == 0
    assert item.history[-1]["cause"] == "inspection.check_failed.stale"


def test_a_late_failure_from_before_an_earlier_closure_does_not_send_back_a_pending_item(
        reopened_item):
    reopened_item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(60))
    reopened_item.transition("pending_verification", actor=YUECHENG_ADMIN, at=later(61),
                             evidence=["e"])
    reopened_item.apply_check(failed_check(later(2)), at=later(62), reopen_deadline_days=DAYS)
    assert reopened_item.status == "pending_verification"


def test_the_same_failure_delivered_twice_changes_nothing_the_second_time():
    item = closed_item()
    check = failed_check(later(50))
    item.apply_check(check, at=later(51), reopen_deadline_days=DAYS)
    snapshot = (item.status, item.version, item.reopen_count, len(item.history), item.deadline)
    assert item.apply_check(check, at=later(70), reopen_deadline_days=DAYS) == []
    assert (item.status, item.version, item.reopen_count, len(item.history),
            item.deadline) == snapshot


def test_a_second_failure_after_the_item_was_closed_again_reopens_it_again(reopened_item):
    reopened_item.transition("in_progress", actor=YUECHENG_ADMIN, at=later(60))
    reopened_item.transition("pending_verification", actor=YUECHENG_ADMIN, at=later(61),
                             evidence=["e"])
    reopened_item.transition("closed", actor=CITY, at=later(62))
    reopened_item.apply_check(failed_check(later(80)), at=later(81), reopen_deadline_days=DAYS)
    assert reopened_item.status == "reopened" and reopened_item.reopen_count == 2


def test_a_passed_check_leaves_a_note_and_the_status_as_it_is():
    item = closed_item()
    changes = item.apply_check(passed_check(later(50)), at=later(51), reopen_deadline_days=DAYS)
    assert changes == [] and item.status == "closed"
    assert item.history[-1]["cause"] == "inspection.check_passed"
