"""Retrieval recall for CLIP: clip-benchmark's ``recall_at_k`` both ways, per image and
averaged, and recall@1 inside fixed galleries; the embedded suite's retrieval tasks and
DataComp's (:mod:`benchmark.evaluate.datacomp`) score with it."""

from __future__ import annotations

import math

import numpy as np
import torch

RECALL_KS = (1, 5)
# Retrieval is also scored inside fixed galleries of about this many images (a seeded
# partition of the task), as Flickr30k's 1k test set scores inside 1,000 images: against
# the whole held-out set a CPU-scale model's recall@1 sits at its floor of a few hits.
GALLERY_SIZE = 100


def retrieval_scores(img_emb: torch.Tensor, txt_emb: torch.Tensor, captions: list[list[str]]):
    """Recall@k both ways (clip-benchmark's ``recall_at_k``), per image and averaged, from
    normalised embeddings: ``img_emb`` (num_images, D), ``txt_emb`` (num_texts, D) with the
    texts in ``captions`` order."""
    from clip_benchmark.metrics.zeroshot_retrieval import recall_at_k

    texts = [c for caps in captions for c in caps]
    text_image = torch.tensor([i for i, caps in enumerate(captions) for _ in caps])
    scores = txt_emb @ img_emb.T  # (num_texts, num_images)
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(texts)), text_image] = True
    metrics: dict[str, float] = {}
    per_image: dict[int, np.ndarray] = {}
    for k in RECALL_KS:
        k_eff = min(k, len(captions))
        t2i = (recall_at_k(scores, positive, k=k_eff) > 0).float().numpy()  # per text
        i2t = (recall_at_k(scores.T, positive.T, k=k_eff) > 0).float().numpy()  # per image
        metrics[f"image_retrieval_recall@{k}"] = float(t2i.mean())
        metrics[f"text_retrieval_recall@{k}"] = float(i2t.mean())
        metrics[f"mean_recall@{k}"] = (float(t2i.mean()) + float(i2t.mean())) / 2
        # per image: its own text→image hits averaged over its captions, and image→text
        per_text = np.bincount(text_image.numpy(), weights=t2i) / np.bincount(text_image.numpy())
        per_image[k] = (per_text + i2t) / 2
    gallery = gallery_recall(scores, positive, text_image.numpy(), len(captions), recall_at_k)
    metrics[f"gallery{GALLERY_SIZE}_mean_recall@1"] = float(gallery.mean())
    items = [
        {
            "doc_id": i,
            **{f"mean_recall@{k}": round(float(per_image[k][i]), 6) for k in RECALL_KS},
            f"gallery{GALLERY_SIZE}_mean_recall@1": round(float(gallery[i]), 6),
        }
        for i in range(len(captions))
    ]
    return metrics, items


def galleries(num_images: int, size: int = GALLERY_SIZE, seed: int = 0) -> list[np.ndarray]:
    """A fixed seeded partition of the images into near-equal galleries of at most ``size``."""
    perm = np.random.default_rng(seed).permutation(num_images)
    return [np.sort(g) for g in np.array_split(perm, max(1, math.ceil(num_images / size)))]


def gallery_recall(scores, positive, text_image: np.ndarray, num_images: int, recall_at_k):
    """Per image, recall@1 inside its gallery: image→text and its captions' text→image."""
    out = np.zeros(num_images)
    for g in galleries(num_images):
        texts = np.flatnonzero(np.isin(text_image, g))
        s = scores[texts][:, g]
        pos = positive[texts][:, g]
        t2i = (recall_at_k(s, pos, k=1) > 0).float().numpy()
        i2t = (recall_at_k(s.T, pos.T, k=1) > 0).float().numpy()
        local = np.searchsorted(g, text_image[texts])  # each text's image, within g
        per_text = np.bincount(local, weights=t2i, minlength=len(g)) / np.bincount(local)
        out[g] = (per_text + i2t) / 2
    return out
