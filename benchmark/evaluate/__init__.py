"""Evaluation: suite files (``evals/<track>/<suite>.yaml``) and the runners per track.

``suite`` reads a suite and computes its aggregates from the suite file's tags;
``lm`` runs the LM suites through lm-eval's ``simple_evaluate``, ``clip`` the CLIP
suites; ``resume`` keeps each finished task so a killed evaluation resumes.
"""

from __future__ import annotations
