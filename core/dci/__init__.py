"""The DCI Social Registry API (Digital Convergence Initiative): search, subscriptions, signed messages.

Subscriptions' notifications: ``events`` (the outbox rows written with each change), ``outbox``
(fan-out, claims, outcomes), ``filters``, ``notify`` (the envelope) and ``delivery`` (the worker).
"""
