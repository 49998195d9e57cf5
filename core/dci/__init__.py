"""The DCI Social Registry API (Digital Convergence Initiative): envelopes, search, subscriptions, signed
messages (``security``).

Subscriptions' notifications: ``events`` (the outbox rows written with each change), ``outbox``
(fan-out, claims, outcomes), ``filters``, ``notify`` (the envelope) and ``delivery`` (the worker).
"""
