"""The quarterly ranking's score (docs/ranking.md) and order."""

from __future__ import annotations

from datetime import date

import pytest

from services.issues.domain.ranking import CountyFigures, Quarter, rank


def test_the_score_is_the_closure_rate_less_overdue_and_reopen_penalties():
    # the worked example of docs/ranking.md: 40 due, 30 closed, 6 overdue, 4 reopened
    assert CountyFigures("330602", 40, 30, 6, 4).score == 64.5


def test_a_county_with_nothing_due_has_no_score_and_comes_last_unranked():
    ranked = rank([CountyFigures("330602", 0, 0, 0, 0), CountyFigures("330603", 10, 5, 0, 0),
                   CountyFigures("330604", 10, 9, 0, 0)])
    assert [(position, f.county) for position, f in ranked] == [
        (1, "330604"), (2, "330603"), (None, "330602")]


def test_equal_scores_share_a_rank():
    ranked = rank([CountyFigures("330603", 10, 5, 0, 0), CountyFigures("330602", 20, 10, 0, 0),
                   CountyFigures("330604", 10, 1, 0, 0)])
    assert [position for position, _ in ranked] == [1, 1, 3]


def test_a_quarter_is_written_like_2026Q4_and_spans_three_months():
    quarter = Quarter.parse("2026Q4")
    assert (quarter.first_day, quarter.next_first_day) == (date(2026, 10, 1), date(2027, 1, 1))
    assert Quarter.of(date(2026, 5, 31)) == Quarter(2026, 2)
    with pytest.raises(ValueError):
        Quarter.parse("2026Q5")
