"""``python -m precplan``."""

from precplan.cli import main

main()
