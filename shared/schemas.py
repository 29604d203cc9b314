"""Validators every service's request schemas share."""

from __future__ import annotations

from marshmallow import ValidationError

from shared import counties


def known_county(code: str) -> None:
    """A county of this city, by its code."""
    if not counties.is_known(code):
        raise ValidationError(f"Unknown county code; one of {', '.join(counties.COUNTIES)}.")
