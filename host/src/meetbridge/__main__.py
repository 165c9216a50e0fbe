"""``python -m meetbridge`` runs the command line."""

from meetbridge.cli import main

main()
