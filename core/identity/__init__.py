"""Identity resolution: who in one list of people is who in another (issue 14).

``names`` turns a name as registered into a matching key; ``linkage`` pairs people across two
frames (``link``) or inside one (``dedupe``) with Fellegi–Sunter weights estimated from the data.
"""
