"""Webhooks out: events written to an outbox in the transaction of their cause
(events.py), signed (signing.py) and delivered by a task in every server instance, which
share the work through the database (store.py, delivery.py)."""
