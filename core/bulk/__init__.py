"""Bulk paths: fast row writers, file import and export."""
