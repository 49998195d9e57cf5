"""Identity resolution: members checked against other agencies' registries, and what follows (issue 14).

``names`` turns a name as registered into a matching key; ``linkage`` pairs people across two
frames (``link``) or inside one (``dedupe``) with Fellegi–Sunter weights estimated from the data;
``outcomes`` reads the checks that count; ``consequences`` turns discrepancies into proposals.
"""
