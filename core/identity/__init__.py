"""Identity resolution: members checked against other agencies' registries, and what follows."""
