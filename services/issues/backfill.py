"""Gives the items stored before the lists kept their keys those keys:
``python -m services.issues.backfill`` (docs/issues.md, "Lists at size").

The first start of the service after the keys came does it by itself; run it again after a
rolling upgrade, once no process of the version before is writing items. Idempotent.
"""

from __future__ import annotations

from services.issues import SERVICE
from services.issues.repository import fill_list_keys
from shared import mongo
from shared.config import Settings


def main() -> None:
    db = mongo.database(Settings.from_env(), SERVICE)
    print(f"list keys given to {fill_list_keys(db)} items")


if __name__ == "__main__":
    main()
