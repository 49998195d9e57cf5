"""Verification and validation: proposals, the chain of levels, determination, rounds, visits, photos, progress."""
