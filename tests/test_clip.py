"""The CLIP track end to end on the reduced real image pool: train, evaluate, entry."""

from __future__ import annotations

import json
import re
from contextlib import nullcontext

import numpy as np
import pytest
import torch

from benchmark.config import load_recipe
from benchmark.errors import BenchError

# A tiny, non-standard variant of the xs recipe on the reduced pool: seconds, not minutes.
TINY_CLIP = [
    "pool=image-default-reduced",
    "data.train_samples=1536",
    "data.global_batch_size=128",
    "data.micro_batch_size=128",
    "optim.warmup_steps=2",
    "eval.batch_size=256",
]


@pytest.fixture(scope="module")
def clip_run(tiny_image_pool, tmp_path_factory):
    from benchmark.run import run_train

    runs = tmp_path_factory.mktemp("clip_runs")
    made = {}

    def make(name: str, seed: int, overrides=()):
        if name not in made:
            made[name] = run_train(
                track="clip",
                scale="xs",
                seed=seed,
                name=name,
                overrides=TINY_CLIP + list(overrides),
                runs_dir=runs,
                wandb_mode="disabled",
                progress=False,
            )
        return made[name]

    return make


@pytest.mark.slow
def test_clip_run_writes_a_valid_entry_and_a_loadable_checkpoint(clip_run):
    import open_clip

    from benchmark.leaderboard.submit import validate_run

    path, entry = clip_run("a", 0)
    assert validate_run(path.parent, allow_nonstandard=True) == entry
    assert entry["track"] == "clip" and not entry["recipe"]["standard"]
    assert entry["compute"]["train_samples"] == 1536
    assert entry["subset"]["num_tokens"] is None
    tasks = entry["metrics"]["tasks"]
    assert {"fashion_mnist", "retrieval", "emoji_groups"} <= set(tasks)
    for t in tasks.values():
        assert 0.0 <= t["value"] <= 1.0 and t["n"] > 0
    head = entry["metrics"]["headline"]
    assert head["name"] == "default_mean"
    default = [t["value"] for t in tasks.values() if "default" in t["tags"]]
    assert 3 <= len(default) < len(tasks)
    assert head["value"] == pytest.approx(np.mean(default))
    for name in ("retrieval", "emoji_retrieval"):
        assert tasks[name]["metric"] == "gallery100_mean_recall@1"
        assert {"mean_recall@1", "mean_recall@5"} <= set(tasks[name]["all"])
    items = (path.parent / "eval" / "items.jsonl").read_text().splitlines()
    assert sum(t["n"] for t in tasks.values()) == len(items)

    ckpt = path.parent / "checkpoint"
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{ckpt}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{ckpt}")
    ids = tokenizer(["a red apple"])
    cfg = json.loads((ckpt / "open_clip_config.json").read_text())["model_cfg"]
    assert ids.shape == (1, cfg["text_cfg"]["context_length"])
    assert int(ids[0].max()) < cfg["text_cfg"]["vocab_size"]
    with torch.no_grad():
        feats = model.encode_text(ids)
    assert feats.shape == (1, cfg["embed_dim"])


@pytest.mark.slow
def test_clip_same_seed_same_metrics_other_seed_differs(clip_run):
    _, a = clip_run("a", 0)
    _, b = clip_run("a-again", 0)
    _, c = clip_run("c", 1)
    assert a["metrics"]["tasks"] == b["metrics"]["tasks"]
    assert a["train"]["final_loss"] == b["train"]["final_loss"]
    assert a["train"]["final_loss"] != c["train"]["final_loss"]


def test_gradient_accumulation_gives_the_full_batch_gradient(tiny_image_pool):
    from open_clip.loss import ClipLoss

    from benchmark.train.clip import build_model, contrastive_step

    recipe = load_recipe("clip", "xs")
    torch.manual_seed(0)
    model = build_model(recipe)
    images = torch.randn(16, 3, 32, 32)
    texts = torch.randint(2, 200, (16, 24))
    texts[:, -1] = 1  # eos
    grads = []
    for micro in (16, 4):
        model.zero_grad()
        loss = contrastive_step(model, ClipLoss(), images, texts, micro, nullcontext)
        grads.append((float(loss), [p.grad.clone() for p in model.parameters()]))
    (l_full, g_full), (l_acc, g_acc) = grads
    assert l_acc == pytest.approx(l_full, rel=1e-5)
    for a, b in zip(g_full, g_acc, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_sample_order_fills_the_budget_by_seeded_resampling():
    from benchmark.train.clip import sample_order

    rows = np.array([3, 7, 9], dtype=np.int64)
    order, epochs = sample_order(rows, 8, seed=0)
    assert len(order) == 8 and epochs == 3
    assert sorted(order[:3]) == [3, 7, 9] and sorted(order[3:6]) == [3, 7, 9]
    again, _ = sample_order(rows, 8, seed=0)
    np.testing.assert_array_equal(order, again)
    other = [tuple(sample_order(rows, 8, seed=s)[0]) for s in range(1, 6)]
    assert any(o != tuple(order) for o in other)


def test_clip_recipe_on_a_text_pool_is_one_clear_error(tiny_pool):
    from benchmark.run import prepare

    with pytest.raises(BenchError, match="pool text-default-reduced is a lm pool"):
        prepare("clip", "xs", None, None, ["pool=text-default-reduced"])


@pytest.mark.parametrize("stale", ["eval data v1", "task missing"])
def test_stale_pool_eval_data_is_refused_before_training(tiny_image_pool, tmp_path, stale, capsys):
    """A pool built before its suite's tasks changed (image eval data v1 had cifar10, not
    fashion_mnist) stops the run in one line before any training, naming the rebuild."""
    import os
    import shutil

    from benchmark.cli import main
    from benchmark.pool.store import pool_path

    name = f"image-stale-{stale.replace(' ', '-')}"
    shutil.copytree(tiny_image_pool.root, pool_path(name), copy_function=os.link)
    evals = pool_path(name) / "evals"
    if stale == "eval data v1":  # written before eval data had a version record
        (evals / "eval_data.json").unlink()
        want = "needs eval data version 2, but .* holds version 1: rebuild the pool"
    else:
        shutil.rmtree(evals / "fashion_mnist")
        want = "eval data for task 'fashion_mnist' is missing .*rebuild the pool"
    runs = tmp_path / "runs"
    args = ["train", "--track", "clip", "--scale", "xs", "--runs-dir", str(runs), "--no-progress"]
    tiny = [o for o in TINY_CLIP if not o.startswith("pool=")]
    assert main([*args, "--wandb", "disabled", *tiny, f"pool={name}"]) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(want, err) and len(err.splitlines()) == 1, err
    assert not list(runs.rglob("checkpoint*")) and not list(runs.rglob("train_log*"))


def test_clip_tokenizer_must_fit_the_text_tower(tiny_image_pool):
    from benchmark.errors import RecipeError
    from benchmark.train.clip import check_tokenizer

    tok = tiny_image_pool.load_tokenizer()
    check_tokenizer(tok, {"vocab_size": 4096, "eos_id": 1, "pad_id": 0}, "ok")
    with pytest.raises(RecipeError, match="vocab_size 100"):
        check_tokenizer(tok, {"vocab_size": 100, "eos_id": 1, "pad_id": 0}, "bad")
    with pytest.raises(RecipeError, match="eos_id"):
        check_tokenizer(tok, {"vocab_size": 4096, "eos_id": 7, "pad_id": 0}, "bad")


def test_quality_selection_uses_caption_kinds_on_an_image_pool(tiny_image_pool, tmp_path):
    from benchmark.select import select
    from benchmark.subset import load_subset

    kinds = tiny_image_pool.manifest["caption_kinds"]
    table = tiny_image_pool.read_table(["caption_kind"])
    column = np.asarray(table.column("caption_kind").to_pylist())
    junk = select("sources", tiny_image_pool, tmp_path / "junk.txt", qualities=("junk",))
    clean = select(
        "sources", tiny_image_pool, tmp_path / "clean.txt", qualities=("junk",), exclude=True
    )
    assert junk + clean == tiny_image_pool.num_items and junk > 0 and clean > 0
    rows = load_subset(tmp_path / "junk.txt", tiny_image_pool).rows
    assert {kinds[k] for k in column[rows]} == {"junk"}
    with pytest.raises(BenchError, match="unknown quality 'great'"):
        select("sources", tiny_image_pool, tmp_path / "x.txt", qualities=("great",))


def test_retrieval_galleries_partition_the_images_and_score_recall_inside_each():
    from clip_benchmark.metrics.zeroshot_retrieval import recall_at_k

    from benchmark.evaluate.retrieval import galleries, gallery_recall

    gs = galleries(847)
    assert len(gs) == 9 and {len(g) for g in gs} <= {94, 95}
    assert np.array_equal(np.sort(np.concatenate(gs)), np.arange(847))
    assert all(np.array_equal(a, b) for a, b in zip(gs, galleries(847), strict=True))
    # two captions per image; a scorer that knows the answer gets 1, one that does not
    # gets about 1 / gallery size, and a gallery's wrong best match is a miss
    text_image = np.repeat(np.arange(847), 2)
    positive = torch.zeros(len(text_image), 847, dtype=torch.bool)
    positive[torch.arange(len(text_image)), torch.from_numpy(text_image)] = True
    perfect = gallery_recall(positive.float(), positive, text_image, 847, recall_at_k)
    assert perfect.shape == (847,) and np.all(perfect == 1.0)
    rng = torch.Generator().manual_seed(0)
    noise = torch.rand(len(text_image), 847, generator=rng)
    chance = gallery_recall(noise, positive, text_image, 847, recall_at_k).mean()
    assert abs(chance - 9 / 847) < 0.01
    # image 0's captions best match image j of its gallery: image 0 misses text→image and
    # image j misses image→text (its best captions are image 0's); a gallery elsewhere
    # would not count
    g0 = next(g for g in gs if 0 in g)
    j = int(g0[g0 != 0][0])
    wrong = positive.float().clone()
    wrong[0:2, j] = 2.0
    other = int(next(g for g in gs if 0 not in g)[0])
    wrong[0:2, other] = 3.0
    r = gallery_recall(wrong, positive, text_image, 847, recall_at_k)
    assert r[0] == 0.5 and r[j] == 0.5 and np.all(np.delete(r, [0, j]) == 1.0)


@pytest.mark.slow
def test_clip_score_filter_scores_with_a_harness_clip(clip_run, tiny_image_pool, tmp_path):
    from benchmark.select import select
    from benchmark.select.image import clip_scores
    from benchmark.subset import read_uids

    path, _ = clip_run("a", 0)
    run_dir = path.parent
    scores = clip_scores(tiny_image_pool, run_dir)
    assert scores.shape == (tiny_image_pool.num_items,) and np.all(np.abs(scores) <= 1.0001)
    n = select("clip-score", tiny_image_pool, tmp_path / "cs.txt", fraction=0.25,
               checkpoint=str(run_dir))  # fmt: skip
    rows = tiny_image_pool.lookup(read_uids(tmp_path / "cs.txt"))
    assert n == round(0.25 * tiny_image_pool.num_items)
    assert scores[rows].min() >= np.sort(scores)[-n]  # exactly the top quarter
    with pytest.raises(BenchError, match="no CLIP checkpoint"):
        select("clip-score", tiny_image_pool, tmp_path / "x.txt", checkpoint=str(tmp_path))
