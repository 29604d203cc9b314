"""The use cases on fake repositories: what is stored, what is published, what is refused."""

from datetime import timedelta

import pytest

from services.inspections import handlers
from services.inspections.domain.model import Check, InvalidRequest, WrongStatus
from services.inspections.handlers import PlanInspection, SampleRequest, UnknownInspection
from tests.unit.inspections.fakes import (
    CITY,
    INSPECTOR,
    KEQIAO,
    NOW,
    STRANGER,
    TARGET_ADMIN,
    TEAM,
    YUECHENG,
    FakeInspections,
    FakeItemCopy,
    item,
    planned,
    started,
)

COPY = [item("i1"), item("i2", status="closed", closed_at=NOW - timedelta(days=2)),
        item("i3", reopen_count=1), item("k1", county=KEQIAO)]
SEEN = NOW - timedelta(minutes=5)


def command(**changes) -> PlanInspection:
    arguments = dict(target_county=YUECHENG, kind="spot_check", team=TEAM,
                     window_start=NOW, window_end=NOW + timedelta(days=1), item_ids=["i1", "i3"])
    return PlanInspection(**(arguments | changes))


def plan(inspections, items, cmd, inspection_id="insp-1", fingerprint="f1"):
    return handlers.plan(inspections, items, cmd, inspection_id=inspection_id,
                         planned_by=CITY, now=NOW, fingerprint=fingerprint, seed=lambda: 7)


def test_planning_stores_the_inspection_and_publishes_the_planned_event():
    inspections = FakeInspections()
    plan(inspections, FakeItemCopy(*COPY), command())
    assert inspections.get("insp-1").item_ids == ["i1", "i3"]
    assert [e.type for e in inspections.published] == ["inspection.planned"]


def test_an_unknown_item_is_refused_saying_the_copy_may_be_behind():
    inspections = FakeInspections()
    with pytest.raises(InvalidRequest) as refused:
        plan(inspections, FakeItemCopy(*COPY), command(item_ids=["i1", "new"]))
    assert "may simply be behind" in refused.value.errors["item_ids"]["1"][0]
    assert inspections.get("insp-1") is None and not inspections.published


def test_an_item_of_another_county_is_refused():
    with pytest.raises(InvalidRequest) as refused:
        plan(FakeInspections(), FakeItemCopy(*COPY), command(item_ids=["k1"]))
    assert KEQIAO in refused.value.errors["item_ids"]["0"][0]


def test_a_sample_is_drawn_from_the_target_county_and_its_seed_kept():
    sample = SampleRequest(strategy="random", size=10, status=None, seed=None)
    view = plan(FakeInspections(), FakeItemCopy(*COPY), command(item_ids=None, sample=sample))
    assert sorted(view.inspection.item_ids) == ["i1", "i2", "i3"]
    assert view.inspection.sample.seed == 7


def test_a_sample_may_be_restricted_by_status():
    sample = SampleRequest(strategy="risk", size=5, status=("closed",), seed=3)
    view = plan(FakeInspections(), FakeItemCopy(*COPY), command(item_ids=None, sample=sample))
    assert view.inspection.item_ids == ["i2"] and view.inspection.sample.seed == 3


def test_an_empty_population_is_refused():
    sample = SampleRequest(strategy="random", size=5, status=("reopened",))
    with pytest.raises(InvalidRequest, match="No items"):
        plan(FakeInspections(), FakeItemCopy(*COPY), command(item_ids=None, sample=sample))


def test_the_same_idempotency_key_and_body_answers_the_first_plan_again():
    inspections, items = FakeInspections(), FakeItemCopy(*COPY)
    first = plan(inspections, items, command())
    again = plan(inspections, items, command())
    assert again.inspection == first.inspection and len(inspections.published) == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict():
    inspections, items = FakeInspections(), FakeItemCopy(*COPY)
    plan(inspections, items, command())
    with pytest.raises(WrongStatus):
        plan(inspections, items, command(kind="patrol"), fingerprint="f2")


def test_a_hidden_inspection_is_reported_exactly_like_a_missing_one():
    inspections = FakeInspections(planned())
    with pytest.raises(UnknownInspection) as hidden:
        handlers.get(inspections, FakeItemCopy(*COPY), "insp-1", TARGET_ADMIN)
    with pytest.raises(UnknownInspection) as missing:
        handlers.get(inspections, FakeItemCopy(*COPY), "insp-404", TARGET_ADMIN)
    assert str(hidden.value) == str(missing.value)


def test_starting_shows_the_team_the_sampled_items_from_the_copy():
    inspections, items = FakeInspections(planned()), FakeItemCopy(*COPY)
    assert handlers.get(inspections, items, "insp-1", INSPECTOR).items is None
    view = handlers.start(inspections, items, "insp-1", INSPECTOR, NOW)
    assert [i.problem for i in view.items] == [i.problem for i in COPY[:3]]
    assert inspections.published[-1].type == "inspection.started"


def test_an_inspector_not_on_the_team_cannot_start_it_nor_learn_it_exists():
    with pytest.raises(UnknownInspection):
        handlers.start(FakeInspections(planned()), FakeItemCopy(), "insp-1", STRANGER, NOW)


def test_filing_publishes_a_failed_check_keyed_by_the_item():
    inspections = FakeInspections(started())
    handlers.file_results(inspections, FakeItemCopy(*COPY), "insp-1", INSPECTOR,
                          [Check("i1", "fail", SEEN, "未整改")], [], NOW, key="k", fingerprint="f")
    failed = [e for e in inspections.published if e.type == "inspection.check_failed"]
    assert [e.subject for e in failed] == ["i1"]
    assert inspections.get("insp-1").status == "completed"


def test_a_retried_filing_answers_again_and_publishes_nothing_twice():
    inspections, items = FakeInspections(started()), FakeItemCopy(*COPY)
    checks = [Check("i1", "pass", SEEN)]
    first = handlers.file_results(inspections, items, "insp-1", INSPECTOR, checks, [], NOW,
                                  key="k", fingerprint="f")
    published = list(inspections.published)
    again = handlers.file_results(inspections, items, "insp-1", INSPECTOR, checks, [],
                                  NOW + timedelta(seconds=3), key="k", fingerprint="f")
    assert again.inspection == first.inspection and inspections.published == published


def test_a_second_filing_under_another_key_is_a_conflict():
    inspections, items = FakeInspections(started()), FakeItemCopy(*COPY)
    handlers.file_results(inspections, items, "insp-1", INSPECTOR, [Check("i1", "pass", SEEN)],
                          [], NOW, key="k", fingerprint="f")
    with pytest.raises(WrongStatus):
        handlers.file_results(inspections, items, "insp-1", INSPECTOR,
                              [Check("i2", "pass", SEEN)], [], NOW, key=None, fingerprint="g")


def test_a_change_overtaken_by_another_writer_is_decided_again_on_fresh_state():
    inspections = FakeInspections(planned())
    inspections.overtake_next_save = True
    view = handlers.start(inspections, FakeItemCopy(*COPY), "insp-1", INSPECTOR, NOW)
    assert view.inspection.status == "in_progress"
    assert [e.type for e in inspections.published].count("inspection.started") == 1


def test_listing_pages_through_what_the_viewer_may_see():
    inspections = FakeInspections(
        *[planned(id=f"p{n}", now=NOW - timedelta(hours=3 + n)) for n in range(3)],
        started(id="s1"))
    page, after = handlers.list_inspections(inspections, CITY, status=None, target_county=None,
                                            after=None, limit=3)
    rest, end = handlers.list_inspections(inspections, CITY, status=None, target_county=None,
                                          after=after, limit=3)
    assert [i.id for i in page + rest] == ["s1", "p0", "p1", "p2"] and end is None
    county, _ = handlers.list_inspections(inspections, TARGET_ADMIN, status=None,
                                          target_county=None, after=None, limit=10)
    assert [i.id for i in county] == ["s1"]


def test_the_copy_keeps_only_newer_snapshots_of_an_item():
    items = FakeItemCopy()
    assert handlers.copy_item(items, item("i1", version=2, status="closed"), NOW)
    assert not handlers.copy_item(items, item("i1", version=1, status="open"), NOW)
    assert not handlers.copy_item(items, item("i1", version=2, status="closed"), NOW)
    assert items.items["i1"].status == "closed"
