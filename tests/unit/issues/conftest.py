from __future__ import annotations

import pytest

from tests.unit.issues.builders import closed_item, failed_check, later


@pytest.fixture
def reopened_item():
    item = closed_item()
    item.apply_check(failed_check(later(50)), at=later(51), reopen_deadline_days=30)
    assert item.status == "reopened"
    return item
