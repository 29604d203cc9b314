"""The counties of the city (绍兴市): code → Chinese name.

The six with a national administrative division code use it; the three development zones have
none, so they carry stable codes of our own in the city's 3306xx range.
"""

from __future__ import annotations

CITY = ("330600", "绍兴市")

COUNTIES: dict[str, str] = {
    "330602": "越城区",
    "330603": "柯桥区",
    "330604": "上虞区",
    "330624": "新昌县",
    "330681": "诸暨市",
    "330683": "嵊州市",
    "330690": "高新区",
    "330691": "袍江开发区",
    "330692": "滨海新城",
}


def is_known(code: str) -> bool:
    return code in COUNTIES


def name(code: str) -> str | None:
    return COUNTIES.get(code)


def code_for(text: str) -> str | None:
    """The code of a county written as its code or its Chinese name (an imported list's
    县区代码 column holds either), or None."""
    text = text.strip()
    if text in COUNTIES:
        return text
    return next((code for code, known in COUNTIES.items() if known == text), None)
