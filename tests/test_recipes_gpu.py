"""The GPU recipes mirror their anchors: DCLM's LM scales and DataComp's CLIP scales.

Each recipe is checked against the published figures (DCLM's ``training/configs`` and
README table, DataComp's ``scale_configs.py``; see ANCHORS.md), and its model is built on
the meta device so that a 7B model costs no memory. Nothing here needs a GPU or the
external pools.
"""

from __future__ import annotations

import re

import pytest
import torch

from benchmark.config import available_scales, clip_model_config, load_recipe
from benchmark.errors import RecipeError
from benchmark.paths import evals_dir

# DCLM: params (exact, DCLM's configs), tokens = 20 x params, sequences per step, lr,
# weight decay, warm-up, z-loss, pool, H100-hours (README table).
DCLM = {
    "400m-1x": dict(params=411_616_256, batch=512, lr=3e-3, wd=0.033, warmup=2000,
                    z_loss=1e-4, steps=7850, pool="dclm-pool-400m-1x", gpu_hours=26),
    "1b-1x": dict(params=1_439_795_200, batch=256, lr=3e-3, wd=0.033, warmup=5000,
                  z_loss=1e-4, steps=54923, pool="dclm-pool-1b-1x", gpu_hours=240),
    "7b-1x": dict(params=6_889_410_560, batch=2048, lr=2e-3, wd=0.05, warmup=5000,
                  z_loss=5e-6, steps=32851, pool="dclm-pool-7b-1x", gpu_hours=3700),
}  # fmt: skip

# DataComp: samples seen (= pool size), batch, lr, warm-up, beta2, open_clip model, params.
DATACOMP = {
    "datacomp-small": dict(samples=12_800_000, batch=4096, lr=5e-4, warmup=500, beta2=0.98,
                           model="ViT-B-32", params=151_277_313, steps=3125),
    "datacomp-medium": dict(samples=128_000_000, batch=4096, lr=5e-4, warmup=500, beta2=0.98,
                            model="ViT-B-32", params=151_277_313, steps=31250),
    "datacomp-large": dict(samples=1_280_000_000, batch=8192, lr=5e-4, warmup=500, beta2=0.98,
                           model="ViT-B-16", params=149_620_737, steps=156250),
    "datacomp-xlarge": dict(samples=12_800_000_000, batch=90112, lr=1e-3, warmup=10000,
                            beta2=0.95, model="ViT-L-14", params=427_616_513, steps=142045),
}  # fmt: skip

GPU = [("lm", s) for s in DCLM] + [("clip", s) for s in DATACOMP]
CPU_POOLS = {"text-default", "image-default"}


def test_the_gpu_scales_exist():
    assert set(DCLM) <= set(available_scales("lm"))
    assert set(DATACOMP) <= set(available_scales("clip"))


@pytest.mark.parametrize("track,scale", GPU)
def test_gpu_recipe_loads_names_its_pool_suite_and_hardware(track, scale):
    r = load_recipe(track, scale)  # validates; the pool need not exist here
    assert r.standard and len(r.sha256) == 64
    assert r.pool not in CPU_POOLS
    prefix = "dclm-pool-" if track == "lm" else "datacomp-pool-"
    assert r.pool == prefix + scale.removeprefix("datacomp-")
    assert (evals_dir() / track / f"{r.eval.suite}.yaml").is_file()
    assert r.eval.suite == ("dclm-core" if track == "lm" else "datacomp")
    assert re.search(r"\d+x (H100|A100)", r.expected.hardware), r.expected.hardware
    assert r.expected.minutes > 0 and r.expected.gpu_hours and r.expected.gpu_hours > 0
    assert r.runtime.precision == "bf16"
    assert r.optim.warmup_steps < r.num_steps


@pytest.mark.parametrize("scale", list(DCLM))
def test_lm_recipe_matches_dclm(scale):
    a, r = DCLM[scale], load_recipe("lm", scale)
    d, o = r.data, r.optim
    assert d.train_tokens == 20 * a["params"]  # Chinchilla 1x, as DCLM defines it
    assert d.seq_len == 2048 and d.global_batch_size == a["batch"]
    assert d.tokenizer == "EleutherAI/gpt-neox-20b" and r.model.vocab_size == 50432
    assert r.num_steps == a["steps"] == d.train_tokens // (a["batch"] * 2048)
    assert (o.lr, o.weight_decay, o.warmup_steps, o.z_loss) == pytest.approx(
        (a["lr"], a["wd"], a["warmup"], a["z_loss"])
    )
    assert o.lr * o.min_lr_ratio == pytest.approx(3e-5)  # cosine to DCLM's cooldown end
    assert (o.beta1, o.beta2, o.eps, o.grad_clip) == (0.9, 0.95, 1e-8, 1.0)
    assert not r.model.tie_word_embeddings
    assert r.pool == a["pool"] and r.expected.gpu_hours == a["gpu_hours"]


@pytest.mark.parametrize("scale", list(DCLM))
def test_lm_model_has_dclms_parameter_count(scale):
    from benchmark.train.lm import build_model

    r = load_recipe("lm", scale)
    with torch.device("meta"):  # shapes only: a 7B model costs no memory
        model = build_model(r, r.model.vocab_size, 0)
    assert sum(p.numel() for p in model.parameters()) == DCLM[scale]["params"]
    assert model.config.max_position_embeddings == r.data.seq_len


@pytest.mark.parametrize("scale", list(DATACOMP))
def test_clip_recipe_matches_datacomp(scale):
    a, r = DATACOMP[scale], load_recipe("clip", scale)
    d, o = r.data, r.optim
    assert d.train_samples == a["samples"] and d.global_batch_size == a["batch"]
    assert r.num_steps == a["steps"] == a["samples"] // a["batch"]
    assert (o.lr, o.warmup_steps, o.beta2) == pytest.approx((a["lr"], a["warmup"], a["beta2"]))
    assert (o.beta1, o.eps, o.weight_decay, o.min_lr_ratio, o.grad_clip) == (
        0.9, 1e-6, 0.2, 0.0, 0.0,  # open_clip's defaults, which DataComp keeps
    )  # fmt: skip
    assert r.model.config == a["model"] and d.image_size == 224


@pytest.mark.parametrize("scale", list(DATACOMP))
def test_clip_model_is_open_clips_builtin_with_datacomps_size(scale):
    import open_clip

    r = load_recipe("clip", scale)
    assert clip_model_config(r.model.config) == open_clip.get_model_config(r.model.config)
    model = open_clip.create_model(r.model.config, pretrained=None, device="meta")
    assert sum(p.numel() for p in model.parameters()) == DATACOMP[scale]["params"]


def test_builtin_clip_config_is_part_of_the_hash_and_never_fetched():
    with pytest.raises(RecipeError, match="no CLIP model config 'hf-hub:"):
        clip_model_config("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")
    with pytest.raises(RecipeError, match="ViT-B-32"):
        clip_model_config("ViT-B-999")
    small, large = load_recipe("clip", "datacomp-small"), load_recipe("clip", "datacomp-large")
    other = load_recipe("clip", "datacomp-small", ["model.config=ViT-B-16"])
    assert not other.standard and other.sha256 not in (small.sha256, large.sha256)


def test_late_optional_fields_at_their_defaults_leave_the_hash_alone():
    base = load_recipe("lm", "xs")
    same = load_recipe("lm", "xs", ["+optim.z_loss=0.0", "+model.vocab_size=null"])
    assert same.standard and same.sha256 == base.sha256
    other = load_recipe("lm", "xs", ["+optim.z_loss=1e-4"])
    assert not other.standard and other.sha256 != base.sha256


def test_the_lm_trainer_uses_z_loss_padded_vocab_and_the_named_tokenizer(tiny_pool):
    from types import SimpleNamespace

    from benchmark.train.lm import lm_loss, model_vocab_size

    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [5.0, 5.0, 5.0]]])
    out = SimpleNamespace(loss=torch.tensor(1.5), logits=logits)
    assert lm_loss(out, 0.0) is out.loss
    lse = torch.logsumexp(logits[:, :-1], dim=-1)  # the last position predicts nothing
    assert torch.allclose(lm_loss(out, 1e-2), 1.5 + 1e-2 * lse.pow(2).mean())

    n = len(tiny_pool.load_tokenizer())
    small = load_recipe("lm", "xs", overrides=["pool=text-default-reduced"])
    assert model_vocab_size(small, tiny_pool, n) == n
    padded = load_recipe(
        "lm", "xs", overrides=["pool=text-default-reduced", "model.vocab_size=8192"]
    )
    assert model_vocab_size(padded, tiny_pool, n) == 8192
    short = load_recipe(
        "lm", "xs", overrides=["pool=text-default-reduced", f"model.vocab_size={n - 1}"]
    )
    with pytest.raises(RecipeError, match="smaller than"):
        model_vocab_size(short, tiny_pool, n)
    with pytest.raises(RecipeError, match="tokenized with EleutherAI/gpt-neox-20b"):
        model_vocab_size(load_recipe("lm", "400m-1x"), tiny_pool, n)
