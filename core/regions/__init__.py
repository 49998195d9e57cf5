"""The regional hierarchy: codes, loading and lookups."""
