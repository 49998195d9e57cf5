"""``python -m core.cli`` runs the ``siks`` command."""

from core.cli import main

main()
