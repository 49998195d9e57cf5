"""Grievances (sanggah): a citizen objects that a recipient does not qualify; officers of the village's
region handle the case (assign, reply, resolve) and an undecided case climbs a level past its deadline.

``cases`` reads cases within a scope (lists, counts, events); ``filing`` finds the recipient a
citizen names and files the case from SIKS-Dataku; ``handling`` holds the officers' actions and
the escalation. Every function writing runs in the caller's write transaction.
"""
