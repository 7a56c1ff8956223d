from __future__ import annotations

import pytest

from benchmark.config import available_scales, load_recipe
from benchmark.errors import RecipeError

SCALES = [(t, s) for t in ("lm", "clip") for s in available_scales(t)]


@pytest.mark.parametrize("track", ["lm", "clip"])
def test_the_cpu_ladder_exists(track):
    assert {"xs", "small", "medium"} <= set(available_scales(track))


@pytest.mark.parametrize("track,scale", SCALES)
def test_every_recipe_loads_and_validates(track, scale):
    r = load_recipe(track, scale)
    assert r.scale == scale and r.track == track
    assert r.standard and r.overrides == ()
    assert len(r.sha256) == 64
    assert 0 < r.num_steps * r.examples_per_step <= r.budget
    assert r.optim.warmup_steps < r.num_steps


def test_clip_recipe_hash_covers_the_model_config_file(tmp_path, monkeypatch):
    import shutil

    from benchmark import paths

    repo = tmp_path / "repo"
    shutil.copytree(paths.scales_dir(), repo / "scales")
    monkeypatch.setenv("BENCH_REPO", str(repo))
    before = load_recipe("clip", "xs").sha256
    cfg = repo / "scales" / "clip" / "models" / "databench-clip-xs.json"
    cfg.write_text(cfg.read_text().replace('"layers": 2', '"layers": 3', 1))
    assert load_recipe("clip", "xs").sha256 != before


def test_clip_image_size_must_match_the_model_config():
    with pytest.raises(RecipeError, match="vision_cfg.image_size"):
        load_recipe("clip", "xs", ["data.image_size=64"])


def test_unknown_track_is_one_clear_error(tmp_path):
    with pytest.raises(RecipeError, match="no scale"):
        load_recipe("audio", "xs")


def test_override_of_a_fixed_field_is_non_standard_and_changes_the_hash():
    base = load_recipe("lm", "xs")
    r = load_recipe("lm", "xs", ["optim.lr=1e-3"])
    assert r.optim.lr == pytest.approx(1e-3)
    assert not r.standard and r.overrides == ("optim.lr=1e-3",)
    assert r.sha256 != base.sha256


def test_free_overrides_and_seed_keep_the_run_standard():
    base = load_recipe("lm", "xs")
    r = load_recipe("lm", "xs", ["data.micro_batch_size=8", "eval.batch_size=4"], seed=7)
    assert r.standard and r.seed == 7 and r.data.micro_batch_size == 8
    assert r.sha256 == base.sha256


def test_precision_is_a_free_choice_only_where_the_recipe_says_auto():
    base = load_recipe("lm", "xs")  # precision: auto (bf16 where the hardware has it)
    r = load_recipe("lm", "xs", ["runtime.precision=fp32"])
    assert r.runtime.precision == "fp32" and r.standard and r.sha256 == base.sha256
    gpu = load_recipe("lm", "400m-1x")  # precision: bf16, fixed
    r = load_recipe("lm", "400m-1x", ["runtime.precision=fp32"])
    assert not r.standard and r.sha256 != gpu.sha256


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["optim.lrr=1"], "optim.lrr"),
        (["+optim.foo=1"], "unknown key 'foo'"),
        (["data.micro_batch_size=7"], "not a multiple"),
        (["model.num_heads=3"], "not divisible"),
        (["runtime.precision=fp8"], "precision"),
        (["data.seq_len=abc"], "expected int"),
    ],
)
def test_bad_overrides_are_one_clear_error(overrides, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("lm", "xs", overrides)


def test_unknown_scale_lists_the_valid_ones():
    with pytest.raises(RecipeError, match="valid scales: .*small"):
        load_recipe("lm", "huge")
