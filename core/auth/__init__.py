"""Authentication: users, passwords, tokens and API keys, and who is asking (the principal)."""
