"""``python -m jobs.cli``: the same as the ``capplan`` command."""

from jobs.cli import main

main()
