"""Validators the services' request schemas share."""

from __future__ import annotations

from collections.abc import Callable

from marshmallow import ValidationError

from shared import divisions


def known_county(lists_them: str = "GET /v1/divisions") -> Callable[[str], None]:
    """A validator of a county code of the region this deployment supervises; its refusal
    names ``lists_them``, where a caller finds the region's counties."""
    def validate(code: str) -> None:
        region = divisions.current()
        if not region.is_county(code):
            raise ValidationError(f"{code} is not a county of {region.name} {region.code}; "
                                  f"{lists_them} lists them.")
    return validate
