"""`python -m cartelsim` runs the command line (see cli.py)."""

from cartelsim.cli import main

raise SystemExit(main())
