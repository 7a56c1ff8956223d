"""Training: one small loop per track over shared pieces (``common``).

``lm.train_lm`` trains a transformers causal LM on packed sequences from a subset.
"""

from __future__ import annotations
