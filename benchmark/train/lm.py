"""The LM track: a transformers Llama built from config, trained on packed data by the
training driver (:mod:`benchmark.train.driver`).

    result = train_lm(recipe, pool, subset, run_dir, wandb_mode="offline")

The model is built from a ``LlamaConfig`` (never downloaded), trained on the recipe's
fixed token budget with AdamW, warm-up and cosine decay, gradient accumulation making up
the recipe's global batch whatever the number of processes (each process takes its own
slice of every global batch, under DDP or FSDP), bf16 autocast where the hardware has
it, resume checkpoints every ``runtime.checkpoint_every`` steps, and saved with
``save_pretrained`` (tokenizer included) so that transformers and lm-eval load it as any
other checkpoint.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import torch

from benchmark.config import Recipe
from benchmark.errors import RecipeError
from benchmark.pool.format import TOKENIZER_JSON
from benchmark.pool.store import Pool
from benchmark.subset import Subset
from benchmark.train import distributed
from benchmark.train.common import RuntimeInfo, accumulation, local_share
from benchmark.train.driver import train
from benchmark.train.packing import PackedSequences

log = logging.getLogger(__name__)


def build_model(recipe: Recipe, vocab_size: int, eos_id: int):
    """A freshly initialised Llama-style causal LM for ``recipe`` (seeded by the caller)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    m = recipe.model
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=m.hidden_size,
        intermediate_size=m.intermediate_size,
        num_hidden_layers=m.num_layers,
        num_attention_heads=m.num_heads,
        num_key_value_heads=m.num_heads,
        max_position_embeddings=recipe.data.seq_len,
        tie_word_embeddings=m.tie_word_embeddings,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config)


def model_vocab_size(recipe: Recipe, pool: Pool, num_tokens: int) -> int:
    """Embedding rows: the recipe's (padded) ``model.vocab_size``, else the tokenizer's size.

    A recipe that names ``data.tokenizer`` (the GPU recipes: GPT-NeoX-20B, as DCLM) only
    trains on a pool tokenized with it (``manifest["tokenizer"]["name"]``)."""
    want = recipe.data.tokenizer
    have = (pool.manifest.get("tokenizer") or {}).get("name")
    if want is not None and want != have:
        raise RecipeError(
            f"recipe {recipe.name} expects a pool tokenized with {want}; pool {pool.name} was "
            f"tokenized with {have or 'its own BPE'} (import it with `--tokenizer DIR` holding "
            f"{want}'s {TOKENIZER_JSON})"
        )
    vocab = recipe.model.vocab_size or num_tokens
    if vocab < num_tokens:
        raise RecipeError(
            f"recipe {recipe.name}: model.vocab_size {vocab} is smaller than pool {pool.name}'s "
            f"tokenizer ({num_tokens} tokens)"
        )
    return vocab


def lm_loss(out, z_loss: float) -> torch.Tensor:
    """Next-token cross-entropy, plus PaLM's z-loss ``z * mean(logsumexp(logits)**2)`` over
    the predicted positions when ``z > 0`` (DCLM trains with it)."""
    if not z_loss:
        return out.loss
    lse = torch.logsumexp(out.logits[:, :-1].float(), dim=-1)
    return out.loss + z_loss * lse.pow(2).mean()


def model_flops_per_token(num_params: int, recipe: Recipe) -> float:
    """Training FLOPs per token: 6N for the weights plus attention scores (PaLM's count)."""
    m, d = recipe.model, recipe.data
    return 6 * num_params + 12 * m.num_layers * m.hidden_size * d.seq_len


class LMTrack:
    """The LM track in the training driver: packed sequences, a Llama, next-token loss."""

    unit, amount = "tok", "tokens"

    def __init__(self, recipe: Recipe, pool: Pool, subset: Subset, rt: RuntimeInfo):
        d = recipe.data
        self.recipe, self.rt = recipe, rt
        self.tokenizer = pool.load_tokenizer()
        self.vocab_size = model_vocab_size(recipe, pool, len(self.tokenizer))
        self.eos_id = self.tokenizer.eos_token_id
        self.micro, self.accum = accumulation(
            d.global_batch_size, d.micro_batch_size, rt.world_size
        )
        self.seqs = PackedSequences(
            pool.tokens,
            pool.offsets,
            subset.rows,
            seq_len=d.seq_len,
            num_sequences=recipe.num_steps * d.global_batch_size,
            eos_id=self.eos_id,
            seed=recipe.seed,
        )
        self.num_epochs = self.seqs.num_epochs
        self.per_step = d.global_batch_size * d.seq_len

    def build_model(self):
        return build_model(self.recipe, self.vocab_size, self.eos_id)

    def flops_per_unit(self, model, num_params: int) -> float:
        return model_flops_per_token(num_params, self.recipe)

    def blocks(self) -> tuple[type, ...]:
        from transformers.models.llama.modeling_llama import LlamaDecoderLayer

        return (LlamaDecoderLayer,)

    def prepare(self, wrapped, forward) -> None:
        self.wrapped, self.forward = wrapped, forward

    def batches(self, steps: range):
        """Per step, this process's slice of the global batch, gathered from the pool's tokens."""
        g = self.recipe.data.global_batch_size
        for step in steps:
            share = local_share(range(step * g, (step + 1) * g), self.rt)
            yield self.seqs[share.start : share.stop]

    def step(self, mine) -> torch.Tensor:
        rt, micro = self.rt, self.micro
        total = torch.zeros((), device=rt.device)
        for k in range(self.accum):
            x = torch.from_numpy(mine[k * micro : (k + 1) * micro])
            x = x.to(rt.device, non_blocking=True)  # (B, T)
            with distributed.grad_sync(self.wrapped, k == self.accum - 1):
                with rt.autocast():
                    out = self.forward(input_ids=x, labels=x)
                    loss = lm_loss(out, self.recipe.optim.z_loss) / self.accum
                loss.backward()
            total += loss.detach()
        return total

    def after_step(self, model) -> dict[str, float]:
        return {}

    def save(self, model, full: dict | None, ckpt: Path) -> None:
        if full is not None and self.recipe.model.tie_word_embeddings:
            full.pop("lm_head.weight", None)  # the input embedding's, saved once
        model.save_pretrained(str(ckpt), state_dict=full, safe_serialization=True)
        self.tokenizer.save_pretrained(str(ckpt))


# train_lm(recipe, pool, subset, run_dir, *, wandb_mode="offline", progress=True)
train_lm = partial(train, make_track=LMTrack)
