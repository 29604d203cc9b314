"""The notifications service: subscriptions, signed webhook deliveries and the pull feed.

What is where (the house of docs/architecture.md):

- ``domain/``: the rules, plain Python, no I/O, one module a concern: ``rule_u.py``,
  ``subscriptions.py``, ``signing.py``, ``url_safety.py``, ``deliveries.py``, ``circuit.py``,
  ``feed.py``, ``retention.py``.
- the use cases: ``handlers.py`` the API's (subscriptions, replay, the delivery log, where
  webhooks may go), ``recording.py`` the consumer's, ``delivering.py`` the dispatcher's (claims,
  attempts, the retention sweep), ``feed.py`` the pull feed's.
- ``repository.py``: every database access, and every FerretDB workaround, of the service;
  ``outbound.py``: DNS and the HTTP POST.
- ``schemas.py``: requests and answers (and the OpenAPI document); ``api.py``: the thin views.
- ``bootstrap.py``: builds settings, database, indexes, stores and destinations once a process.
- processes: ``app.py`` (web), ``consumer.py`` (both topics), ``dispatcher.py`` (the webhooks);
  ``metrics.py`` the service's Prometheus figures.

docs/notifications.md says who receives what.
"""

SERVICE = "notifications"
