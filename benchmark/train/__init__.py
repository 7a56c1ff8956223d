"""Training: one small loop per track over shared pieces (``common``).

``lm.train_lm`` trains a transformers causal LM on packed sequences from a subset;
``clip.train_clip`` an open_clip model on a pool's image cache. ``distributed`` launches
and wraps several processes (DDP or FSDP); ``resume`` writes and restores the
checkpoints a killed run resumes from.
"""

from __future__ import annotations
