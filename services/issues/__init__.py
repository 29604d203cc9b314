"""The issues service: every county's rectification items (问题清单), their lifecycle up to
crossing them off (销号), rule R by which a failed check reopens an item, overdue notices, the
ledger (工作台账), the quarterly ranking (排位), the public board (上墙公示) and the dashboard.

What is where (the house of docs/architecture.md):

- ``domain/``: the rules, plain Python, no I/O. ``model.py`` the item, its lifecycle, rule R and
  overdue; ``ranking.py`` the quarter's score; ``figures.py`` what an item counts for in its
  county's kept figures; ``cities.py`` the region's counties by city.
- ``handlers.py``: the use cases (create, import, transition, apply a check, announce overdue).
- ``repository.py``: every database access, and every FerretDB workaround, of the service.
- ``importing.py``: reading a county's list from CSV or XLSX; ``schemas.py``: requests and
  answers (and the OpenAPI document).
- ``api.py``, ``divisions_api.py``: the JSON API; ``pages.py`` and ``templates/``: the board and
  the dashboard.
- ``bootstrap.py``: builds settings, database, indexes and repository once a process.
- processes: ``app.py`` (web), ``consumer.py`` (inspection events), ``relay.py`` (the outbox),
  ``scheduler.py`` (overdue scan), ``figures.py`` (keeps the figures); ``metrics.py`` the
  service's Prometheus figures.

docs/issues.md says who may do what.
"""

SERVICE = "issues"
