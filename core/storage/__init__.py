"""The database: the async engine and write transactions, read-side records, schema migrations."""
