"""Evaluation: suite files (``evals/<track>/<suite>.yaml``) and the runners per track.

``suite`` reads a suite and computes its aggregates from the suite file's tags;
``lm`` runs the LM suites through lm-eval's ``simple_evaluate``.
"""

from __future__ import annotations
