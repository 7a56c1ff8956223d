"""The LM track's training loop: a transformers Llama built from config, packed data.

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
import time
from pathlib import Path

import torch

from benchmark.config import Recipe
from benchmark.errors import RecipeError
from benchmark.pool.format import TOKENIZER_JSON
from benchmark.pool.store import Pool
from benchmark.subset import Subset
from benchmark.train import distributed
from benchmark.train.common import (
    TrainResult,
    accumulation,
    budget_tail,
    local_share,
    make_optimizer,
    optimizer_step,
    setup_runtime,
    start_logging,
    step_loss,
)
from benchmark.train.packing import PackedSequences
from benchmark.train.resume import Cadence, full_model_state, load_state, run_key, save_state

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


def train_lm(
    recipe: Recipe,
    pool: Pool,
    subset: Subset,
    run_dir: Path,
    *,
    wandb_mode: str = "offline",
    progress: bool = True,
) -> TrainResult:
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    rt = setup_runtime(recipe.runtime)
    d = recipe.data
    tokenizer = pool.load_tokenizer()
    vocab_size = model_vocab_size(recipe, pool, len(tokenizer))
    eos_id = tokenizer.eos_token_id
    num_steps = recipe.num_steps
    micro, accum = accumulation(d.global_batch_size, d.micro_batch_size, rt.world_size)
    seqs = PackedSequences(
        pool.tokens,
        pool.offsets,
        subset.rows,
        seq_len=d.seq_len,
        num_sequences=num_steps * d.global_batch_size,
        eos_id=eos_id,
        seed=recipe.seed,
    )
    num_epochs = seqs.num_epochs
    torch.manual_seed(recipe.seed)
    model = build_model(recipe, vocab_size, eos_id).to(rt.device)
    num_params = sum(p.numel() for p in model.parameters())
    wrapped, unsharded = distributed.parallelize(
        model, recipe.runtime.parallel, (LlamaDecoderLayer,)
    )
    opt, sched = make_optimizer(model, recipe.optim, num_steps)
    key = run_key(recipe, pool, subset)
    state = load_state(run_dir, key, model, opt, sched)
    cadence = Cadence(recipe.runtime.checkpoint_every, num_steps)
    fwd = torch.compile(wrapped) if recipe.runtime.compile else wrapped
    tokens_per_step = d.global_batch_size * d.seq_len
    sink, bar = start_logging(
        recipe,
        run_dir,
        rt,
        wandb_mode=wandb_mode,
        progress=progress,
        total=num_steps * tokens_per_step,
        unit="tok",
        start_step=state.step,
        per_step=tokens_per_step,
    )
    t0 = time.time() - state.elapsed_s
    try:
        model.train()
        for step in range(state.step, num_steps):
            # this process's slice of the global batch, gathered from the pool's tokens
            share = local_share(
                range(step * d.global_batch_size, (step + 1) * d.global_batch_size), rt
            )
            mine = seqs[share.start : share.stop]
            step_loss_sum = torch.zeros((), device=rt.device)
            for k in range(accum):
                x = torch.from_numpy(mine[k * micro : (k + 1) * micro])
                x = x.to(rt.device, non_blocking=True)  # (B, T)
                with distributed.grad_sync(wrapped, k == accum - 1):
                    with rt.autocast():
                        loss = lm_loss(fwd(input_ids=x, labels=x), recipe.optim.z_loss) / accum
                    loss.backward()
                step_loss_sum += loss.detach()
            grad_norm = optimizer_step(model, opt, sched, recipe.optim.grad_clip, unsharded)
            value = step_loss(step_loss_sum, rt, step)
            state.losses.append(value)
            state.step = step + 1
            state.elapsed_s = time.time() - t0
            sink.log(
                {
                    "step": step + 1,
                    "loss": value,
                    "lr": sched.get_last_lr()[0],
                    "grad_norm": grad_norm,
                    "tokens": (step + 1) * tokens_per_step,
                    "elapsed_s": round(state.elapsed_s, 3),
                }
            )
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            bar.update(tokens_per_step)
            if cadence.due(state.step):
                save_state(run_dir, key, model, opt, sched, state)
    finally:
        bar.close()
    wall = time.time() - t0
    ckpt = run_dir / "checkpoint"
    sharded = rt.world_size > 1 and recipe.runtime.parallel == "fsdp"
    full = full_model_state(model) if sharded else None  # collective: every rank calls it
    if full is not None and recipe.model.tie_word_embeddings:
        full.pop("lm_head.weight", None)  # the input embedding's, saved once
    if rt.is_main:
        model.save_pretrained(str(ckpt), state_dict=full, safe_serialization=True)
        tokenizer.save_pretrained(str(ckpt))
    result = TrainResult(
        checkpoint=ckpt,
        num_params=num_params,
        train_tokens=num_steps * tokens_per_step,
        num_steps=num_steps,
        num_epochs=num_epochs,
        final_loss=budget_tail(state.losses),
        flops=model_flops_per_token(num_params, recipe) * num_steps * tokens_per_step,
        wall_seconds=wall,
        throughput=num_steps * tokens_per_step / wall,
        device=rt.describe(),
        precision=rt.precision,
        num_processes=rt.world_size,
    )
    sink.summary({"final_loss": result.final_loss, "tokens_per_second": result.throughput})
    sink.close()
    return result
