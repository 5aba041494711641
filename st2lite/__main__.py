"""``python -m st2lite`` runs the CLI."""

from st2lite.cli import main

main()
