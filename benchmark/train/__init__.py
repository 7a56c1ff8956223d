"""Training: one loop (``driver.train``) that both tracks plug into.

``lm.LMTrack`` brings packed sequences and a transformers causal LM (``lm.train_lm``);
``clip.ClipTrack`` a pool's image cache, captions and an open_clip model
(``clip.train_clip``). ``common`` holds the shared runtime pieces, ``distributed``
launches and wraps several processes (DDP or FSDP), and ``resume`` writes and restores
the checkpoints a killed run resumes from.
"""

from __future__ import annotations
