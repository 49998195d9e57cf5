"""The built-in aid programs, each a plugin registered through the ``siks.programs`` entry point."""
