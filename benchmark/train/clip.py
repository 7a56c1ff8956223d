"""The CLIP track: an open_clip model from a registered config, trained with ClipLoss by
the training driver (:mod:`benchmark.train.driver`).

    result = train_clip(recipe, pool, subset, run_dir, wandb_mode="offline")

The model comes from a config file in ``scales/clip/models/`` registered with open_clip
(never downloaded). Images are read from the pool's preprocessed cache
(:mod:`benchmark.train.images`, uint8, held in memory) and captions are tokenized once with the
pool's caption tokenizer, so two CPU cores spend their time on the model, not on
decoding. The recipe fixes the samples seen: the subset is resampled (a fresh seeded
permutation per pass) until the budget is filled. The contrastive batch is the recipe's
global batch whatever the micro batch or the number of processes: with gradient
accumulation, features of the whole batch are computed first without gradients and
each micro batch is then re-run with gradients against them (open_clip's ``accum_freq``
scheme; the temperature takes its gradient in one pass only), so the loss and its gradient
are those of the full batch. With several processes each takes its own slice of the
global batch and open_clip's ``ClipLoss`` gathers the features of all of them with their
gradients (``gather_with_grad``, ``local_loss``: each process scores its rows against
the whole batch), so the contrastive batch is still the global batch; DDP or FSDP
averages the gradients. Resume checkpoints as for the LM track (``resume``).

The checkpoint is ``open_clip_config.json`` + ``open_clip_model.safetensors`` + the
tokenizer, which ``open_clip.create_model_and_transforms("local-dir:PATH")`` and
``open_clip.get_tokenizer("local-dir:PATH")`` load.
"""

from __future__ import annotations

import json
import logging
import math
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import numpy as np
import torch

from benchmark.config import Recipe, clip_model_config, clip_models_dir
from benchmark.errors import PoolError, RecipeError
from benchmark.pool.store import Pool
from benchmark.subset import Subset
from benchmark.train import distributed
from benchmark.train.common import RuntimeInfo, local_share
from benchmark.train.driver import train
from benchmark.train.images import StepImages

log = logging.getLogger(__name__)

# The tokenizer's name in a saved checkpoint config; open_clip reads the tokenizer files
# from the checkpoint folder itself when loading with "local-dir:".
TOKENIZER_TAG = "databench-caption-bpe"


def register_model_configs() -> None:
    """Make the repo's CLIP model configs known to open_clip by name."""
    import open_clip

    open_clip.add_model_config(clip_models_dir())


def build_model(recipe: Recipe) -> torch.nn.Module:
    """A freshly initialised open_clip model for ``recipe`` (seeded by the caller)."""
    import open_clip

    register_model_configs()
    return open_clip.create_model(
        recipe.model.config, pretrained=None, precision="fp32", output_dict=True
    )


def tokenize_captions(tokenizer, texts: list[str], context_length: int) -> np.ndarray:
    """``(N, context_length)`` int64 ids, padded, with the end token kept on truncation."""
    ids = tokenizer(
        texts, max_length=context_length, padding="max_length", truncation=True
    ).input_ids
    return np.asarray(ids, dtype=np.int64)


def check_tokenizer(tokenizer, text_cfg: dict, config: str) -> None:
    """The pool's tokenizer must fit the model's text tower.

    The repo's configs name their end and pad ids (``eos_id``, ``pad_id``); open_clip's
    built-in ones (ViT-B-32, ...) name none and pool the text at the highest id (argmax),
    so their tokenizer's end token must be the last id: OpenAI CLIP's BPE, which
    ``bench pool import --tokenizer openai-clip`` installs.
    """
    vocab = text_cfg.get("vocab_size", 49408)
    if len(tokenizer) > vocab:
        raise RecipeError(
            f"model config {config}: text_cfg.vocab_size {vocab} is smaller than the pool "
            f"tokenizer's {len(tokenizer)} tokens"
        )
    if "eos_id" not in text_cfg:
        if tokenizer.eos_token_id != vocab - 1:
            raise RecipeError(
                f"model config {config} pools text at its last id {vocab - 1}, but the pool "
                f"tokenizer's end token is {tokenizer.eos_token_id}: import the pool with "
                "`bench pool import ... --tokenizer openai-clip`"
            )
        return
    for key, tok_id in (("eos_id", tokenizer.eos_token_id), ("pad_id", tokenizer.pad_token_id)):
        if text_cfg.get(key) != tok_id:
            raise RecipeError(
                f"model config {config}: text_cfg.{key} {text_cfg.get(key)} differs from the "
                f"pool tokenizer's {tok_id}"
            )


def sample_order(rows: np.ndarray, num_samples: int, seed: int) -> tuple[np.ndarray, int]:
    """Pool rows for ``num_samples`` samples: seeded passes over ``rows``; and the pass count."""
    rng = np.random.default_rng(seed)
    num_epochs = sample_passes(num_samples, len(rows))
    order = np.concatenate([rows[rng.permutation(len(rows))] for _ in range(num_epochs)])
    return order[:num_samples], num_epochs


def sample_passes(num_samples: int, num_rows: int) -> int:
    """Passes over a subset of ``num_rows`` uids that ``num_samples`` samples take."""
    return math.ceil(num_samples / num_rows)


def normalizer(device: torch.device):
    """uint8 ``(B, H, W, 3)`` → float ``(B, 3, H, W)`` normalised as open_clip's preprocessing."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    mean = torch.tensor(OPENAI_DATASET_MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(OPENAI_DATASET_STD, device=device).view(1, 3, 1, 1) * 255

    def apply(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).to(device)  # (B, H, W, 3) uint8
        x = x.permute(0, 3, 1, 2).float()  # (B, 3, H, W)
        return (x - mean) / std

    return apply


def model_flops_per_sample(model: torch.nn.Module, cfg: dict) -> float:
    """Training FLOPs per pair: 6 x (vision weights x patches + text weights x context)."""
    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    num_patches = (v["image_size"] // v["patch_size"]) ** 2 + 1
    vision = sum(p.numel() for p in model.visual.parameters())
    text = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("visual."))
    text -= t["vocab_size"] * t["width"]  # the embedding is a lookup, not a matmul
    return 6.0 * (vision * num_patches + text * t["context_length"])


def contrastive_step(
    model,
    loss_fn,
    images: torch.Tensor,
    texts: torch.Tensor,
    micro: int,
    autocast,
    wrapped: torch.nn.Module | None = None,
) -> torch.Tensor:
    """Forward and backward for one batch (this process's share of the global batch);
    returns the (detached) loss. ``wrapped``: the DDP/FSDP module, whose gradients are
    synchronised in the last micro batch's backward only."""
    if micro >= images.shape[0]:
        with autocast():
            out = model(images, texts)
            loss = loss_fn(out["image_features"], out["text_features"], out["logit_scale"])
        loss.backward()
        return loss.detach()
    chunks = list(zip(images.split(micro), texts.split(micro), strict=True))
    with torch.no_grad(), autocast():
        cached = [model(i, t) for i, t in chunks]
    img_feats = [c["image_features"] for c in cached]
    txt_feats = [c["text_features"] for c in cached]
    total = torch.zeros((), device=images.device)
    for j, (i, t) in enumerate(chunks):
        last = j == len(chunks) - 1
        sync = distributed.grad_sync(wrapped, last) if wrapped is not None else nullcontext()
        with sync:
            with autocast():
                out = model(i, t)
                all_img = torch.cat(img_feats[:j] + [out["image_features"]] + img_feats[j + 1 :])
                all_txt = torch.cat(txt_feats[:j] + [out["text_features"]] + txt_feats[j + 1 :])
                scale = out["logit_scale"] if j == 0 else out["logit_scale"].detach()
                if j and wrapped is not None:  # in the graph with a zero gradient, for DDP
                    scale = scale + 0 * out["logit_scale"]
                loss = loss_fn(all_img, all_txt, scale)
            loss.backward()  # exact: only micro batch j's features (once, the scale) carry grads
        total = loss.detach()
    return total


def save_checkpoint(
    state: dict[str, torch.Tensor], tokenizer, cfg: dict, image_size: int, ckpt: Path
) -> None:
    """open_clip's local-dir layout: config + safetensors weights + tokenizer files."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from safetensors.torch import save_file

    from benchmark.io import write_json

    ckpt.mkdir(parents=True, exist_ok=True)
    model_cfg = json.loads(json.dumps(cfg))
    model_cfg["text_cfg"]["hf_tokenizer_name"] = TOKENIZER_TAG
    write_json(
        ckpt / "open_clip_config.json",
        {
            "model_cfg": model_cfg,
            "preprocess_cfg": {
                "size": image_size,
                "mean": list(OPENAI_DATASET_MEAN),
                "std": list(OPENAI_DATASET_STD),
                "interpolation": "bicubic",
                "resize_mode": "shortest",
            },
        },
    )
    state = {k: v.detach().contiguous() for k, v in state.items()}
    save_file(state, str(ckpt / "open_clip_model.safetensors"))
    tokenizer.save_pretrained(str(ckpt))


class ClipTrack:
    """The CLIP track in the training driver: cached images, captions, contrastive loss."""

    unit, amount = "pair", "samples"

    def __init__(self, recipe: Recipe, pool: Pool, subset: Subset, rt: RuntimeInfo):
        d = recipe.data
        if pool.track != "clip":
            raise PoolError(
                f"pool {pool.name} is a {pool.track} pool; the CLIP track needs a clip pool"
            )
        self.recipe, self.rt = recipe, rt
        self.cfg = clip_model_config(recipe.model.config)
        self.tokenizer = pool.load_tokenizer()
        check_tokenizer(self.tokenizer, self.cfg["text_cfg"], recipe.model.config)
        if d.global_batch_size % rt.world_size:
            raise RecipeError(
                f"global batch {d.global_batch_size} is not divisible by {rt.world_size} processes"
            )
        order, self.num_epochs = sample_order(
            subset.rows, recipe.num_steps * d.global_batch_size, recipe.seed
        )
        unique = np.unique(order)  # tokenize and load only what the run will see
        captions = pool.read_table(["text"]).column("text").take(unique).to_pylist()
        self.tokens = tokenize_captions(
            self.tokenizer, captions, self.cfg["text_cfg"]["context_length"]
        )
        self.images = StepImages(pool, d.image_size, unique, recipe.runtime.data_workers)
        self.local = np.searchsorted(unique, order)  # sample k -> index into unique (and tokens)
        self.to_input = normalizer(rt.device)
        self.per_step = d.global_batch_size

    def build_model(self) -> torch.nn.Module:
        return build_model(self.recipe)

    def flops_per_unit(self, model, num_params: int) -> float:
        return model_flops_per_sample(model, self.cfg)

    def blocks(self) -> tuple[type, ...]:
        """open_clip's transformer blocks: FSDP's units."""
        from open_clip.transformer import CustomResidualAttentionBlock, ResidualAttentionBlock

        return (ResidualAttentionBlock, CustomResidualAttentionBlock)

    def prepare(self, wrapped, forward) -> None:
        from open_clip.loss import ClipLoss

        rt = self.rt
        self.wrapped, self.forward = wrapped, forward
        self.loss_fn = ClipLoss(
            local_loss=rt.world_size > 1,
            gather_with_grad=rt.world_size > 1,
            cache_labels=True,
            rank=rt.rank,
            world_size=rt.world_size,
        )

    def _mine(self, step: int) -> np.ndarray:
        """This process's slice of step ``step``'s global batch (indices into unique)."""
        g = self.per_step
        return local_share(self.local[step * g : (step + 1) * g], self.rt)

    def batches(self, steps: range):
        for step, pixels in zip(steps, self.images.batches(self._mine, steps), strict=True):
            tokens = torch.from_numpy(self.tokens[self._mine(step)]).to(self.rt.device)  # (B, T)
            yield self.to_input(pixels), tokens  # (B, 3, H, W), (B, T)

    def step(self, batch) -> torch.Tensor:
        x, t = batch
        rt = self.rt
        wrapped = self.wrapped if rt.world_size > 1 else None
        micro = self.recipe.data.micro_batch_size
        return contrastive_step(self.forward, self.loss_fn, x, t, micro, rt.autocast, wrapped)

    def after_step(self, model) -> dict[str, float]:
        with torch.no_grad():  # CLIP's temperature clamp, as open_clip's trainer does
            model.logit_scale.clamp_(0, math.log(100))
        return {"logit_scale": float(model.logit_scale.detach().exp())}

    def save(self, model, full: dict | None, ckpt: Path) -> None:
        weights = full if full is not None else model.state_dict()
        save_checkpoint(weights, self.tokenizer, self.cfg, self.recipe.data.image_size, ckpt)


# train_clip(recipe, pool, subset, run_dir, *, wandb_mode="offline", progress=True)
train_clip = partial(train, make_track=ClipTrack)
