"""Plumbing shared by the issues, inspections and notifications services.

Nothing here knows about items, inspections or subscriptions: it is the event envelope and its
catalog, the outbox and its relay, the consumer runner, auth, errors, metrics and configuration.
"""
