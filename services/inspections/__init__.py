"""The inspections service: unannounced (不打招呼), cross-county (交叉检查) inspections and their
spot checks. The city plans them; the team starts them on site and files the results, each
failed check an event that reopens its item in the issues service (rule R).

What is where (the house of docs/architecture.md):

- ``domain/``: the rules, plain Python, no I/O. ``model.py`` the inspection, rules U and X, the
  results; ``sampling.py`` drawing the items to check (docs/sampling.md).
- ``handlers.py``: the use cases (plan, start, file results, cancel, keep the item copy).
- ``repository.py``: every database access: the inspections with their change log and outbox,
  and this service's copy of the items, kept from the issues events (never a call to issues).
- ``schemas.py``: requests and answers (and the OpenAPI document); ``api.py``: the thin views.
- ``bootstrap.py``: builds settings, database, indexes and repositories once a process.
- processes: ``app.py`` (web), ``consumer.py`` (the item copy), ``relay.py`` (the outbox);
  ``metrics.py`` the service's Prometheus figures, with no county label (rule U).

docs/inspections.md says who sees what.
"""

SERVICE = "inspections"
