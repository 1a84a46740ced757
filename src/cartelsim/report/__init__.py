"""HTML reports: shared page helpers (page.py), the run report, the calibration report and
the agent engine's map section. Reports import the core and the analyses, never the reverse."""
