"""databench: a benchmark harness for controlled data-selection experiments.

The training recipe is fixed per scale; the subset of a fixed candidate pool is what
competes. See README.md for the workflow and ``bench --help`` for the CLI.
"""

from __future__ import annotations

__version__ = "0.1.0"
