"""The vocabulary every layer uses: coded answers, row ids, which text may be stored, refusals,
spreadsheet-safe cells, settings. It imports nothing else from core (an import-linter contract)."""
