"""The region's counties grouped by city (a province region has eleven in Zhejiang; a city region
one): the ledger's rows with their city, read for the region, one city or one county, and each
city's row of its counties summed. No I/O."""

from __future__ import annotations

from services.issues.domain import figures
from shared.divisions import Region


def ledger_rows(rows: list[dict], region: Region, city: str | None = None) -> list[dict]:
    """The ledger's county rows with their city's code and name, city by city in code order
    (the counties of ``city`` only, if given)."""
    named = [{**row, "city": region.city_of(row["county"]),
              "city_name": region.cities.get(region.city_of(row["county"]) or "", "")}
             for row in rows]
    if city is not None:
        named = [row for row in named if row["city"] == city]
    return sorted(named, key=lambda row: (row["city"] or "", row["county"]))


def city_rows(kept: dict[str, dict], region: Region, city: str | None = None) -> list[dict]:
    """Each city's ledger row (the city of ``city`` only, if given) from its counties'
    summaries summed, in code order."""
    by_city: dict[str, list[dict]] = {}
    for county, summary in kept.items():
        if (code := region.city_of(county)) is not None:
            by_city.setdefault(code, []).append(summary)
    rows = []
    for code in sorted(region.cities):
        if city not in (None, code):
            continue
        row = figures.ledger_row(code, figures.summed(by_city.get(code, [])))
        del row["county"]
        rows.append({"city": code, "city_name": region.cities[code],
                     "counties": len(region.counties_of(code)), **row})
    return rows


def place(region: Region, county: str, township: str,
          village: str) -> tuple[str | None, dict[str, list[str]]]:
    """Where an item lies by the division codes: its village's code if the name matched under
    the county (and township), and, by field, the names that did not. Never a refusal:
    villages merge and are renamed faster than the codes, so a list keeps what it says."""
    if region.get(county) is None:
        return None, {}
    name = region.county_name(county)
    warnings: dict[str, list[str]] = {}
    found_township = region.township(county, township)
    if found_township is None and region.children(county):
        warnings["township"] = [f"{township} is not a township or street of {name} in the "
                                "division codes; kept as written."]
    found_village = region.village(county, found_township, village)
    if found_village is None and region.children(county):
        where = found_township.name if found_township is not None else name
        warnings["village"] = [f"{village} is not a village or community of {where} in the "
                               "division codes; kept as written."]
    return (found_village.code if found_village is not None else None), warnings
