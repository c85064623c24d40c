"""``python -m core``: GenreLab's command line."""

from core.cli import main

raise SystemExit(main())
