"""The quarterly ranking of counties (排位): a documented score (docs/ranking.md), no I/O.

A county is judged on the items whose deadline falls in the quarter:
    score = 100 · closed/n − 50 · overdue/n − 30 · reopened/n
where ``closed`` are crossed off, ``overdue`` are past their deadline and not closed, and
``reopened`` were reopened by a failed inspection at least once. Rates, not counts, so that a
large county and a small zone compare fairly.

In a province region counties are ranked within their city, and the cities among themselves on
the sum of their counties' figures (rank_by_city).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

CLOSED_WEIGHT, OVERDUE_PENALTY, REOPEN_PENALTY = 100, 50, 30
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text)
        if not match:
            raise ValueError("A quarter is written like 2026Q4.")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def next_first_day(self) -> date:
        return date(self.year + 1, 1, 1) if self.number == 4 else date(self.year,
                                                                       3 * self.number + 1, 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


@dataclass(frozen=True)
class CountyFigures:
    county: str
    items: int
    closed: int
    overdue: int
    reopened: int

    @property
    def score(self) -> float | None:
        if not self.items:
            return None  # nothing was due: not ranked
        raw = (CLOSED_WEIGHT * self.closed - OVERDUE_PENALTY * self.overdue
               - REOPEN_PENALTY * self.reopened) / self.items
        return round(raw, 1)


def rank(figures: list[CountyFigures]) -> list[tuple[int | None, CountyFigures]]:
    """Best score first; equal scores share a rank; counties with nothing due come last."""
    scored = sorted((f for f in figures if f.score is not None),
                    key=lambda f: (-f.score, f.county))
    ranked: list[tuple[int | None, CountyFigures]] = []
    for position, figure in enumerate(scored, start=1):
        shared = ranked and ranked[-1][1].score == figure.score
        ranked.append((ranked[-1][0] if shared else position, figure))
    ranked.extend((None, f) for f in sorted(figures, key=lambda f: f.county) if f.score is None)
    return ranked


def summed(code: str, figures: list[CountyFigures]) -> CountyFigures:
    """The figures of a city: its counties' items, closed, overdue and reopened together."""
    return CountyFigures(code, sum(f.items for f in figures), sum(f.closed for f in figures),
                         sum(f.overdue for f in figures), sum(f.reopened for f in figures))


Ranked = list[tuple[int | None, CountyFigures]]


def rank_by_city(figures: list[CountyFigures],
                 city_of: Callable[[str], str]) -> tuple[Ranked, Ranked]:
    """The counties ranked within their city (city by city, in code order), and the cities
    ranked on their summed figures."""
    by_city: dict[str, list[CountyFigures]] = {}
    for figure in figures:
        by_city.setdefault(city_of(figure.county), []).append(figure)
    counties = [row for city in sorted(by_city) for row in rank(by_city[city])]
    cities = rank([summed(city, members) for city, members in by_city.items()])
    return counties, cities
