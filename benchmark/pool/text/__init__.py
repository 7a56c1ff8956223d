"""The embedded text pool: its sources (build.py, sources.py) and its eval sets (evals.py)."""
