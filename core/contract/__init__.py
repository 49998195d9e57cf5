"""The API contract: the printed schemas frontend teams and integrators build on, and the check
that a change to them breaks no client unannounced (``siks schema export|breaking``)."""
