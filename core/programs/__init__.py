"""Aid programs: the plugin hooks, the registry of installed programs, and the set-based engine."""
