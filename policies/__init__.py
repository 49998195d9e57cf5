"""Access-control model and base policy (Casbin), shipped as package data."""
