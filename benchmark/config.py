"""Scale recipes: YAML files under ``scales/<track>/<scale>.yaml``, turned into frozen dataclasses.

Hydra's compose API reads a recipe and applies command-line overrides
(``optim.lr=1e-3``) at the CLI edge; the library only ever sees a :class:`Recipe`.
Unknown keys are rejected with the valid ones listed, and cross-field checks live in
:meth:`Recipe.validate`. Each recipe has a hash over its *fixed* fields; an override of
a fixed field makes a run non-standard (its entry is marked so and never ranked with
standard ones). Fields that change speed or memory but not the result (micro batch,
eval batch, thread count, torch.compile, DDP or FSDP, checkpoint interval) and the seed
may be changed freely, and so may the precision of a recipe whose precision is ``auto``
(bf16 where the hardware has it): entries record the precision they used and are only
ranked with entries of the same precision.

    recipe = load_recipe("lm", "small", overrides=["optim.lr=1e-3"])
    recipe.sha256, recipe.standard
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.errors import RecipeError
from benchmark.io import canonical_json, sha256_bytes
from benchmark.paths import is_file_stem, scales_dir

# Overrides of these keys do not change what is trained, so they keep a run standard.
FREE_KEYS = frozenset(
    {
        "seed",
        "data.micro_batch_size",
        "eval.batch_size",
        "runtime.compile",
        "runtime.num_threads",
        "runtime.parallel",
        "runtime.checkpoint_every",
        "runtime.data_workers",
        "runtime.device",
        "eval.data_dir",
    }
)

MAX_SEED = 2**32 - 1  # seeds are in [0, MAX_SEED]: what numpy's legacy and torch's seeding take


def check_seed(seed: int) -> None:
    """Refuse a seed the trainers and selection methods cannot take."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise RecipeError(f"seed must be in [0, 2**32 - 1], got {seed!r}; use e.g. --seed 0")


# Optional fields added after the first recipes were hashed, with their defaults. At its
# default such a field is left out of the hash input, so older recipes keep their hashes
# (and their leaderboard entries stay comparable); set to anything else, it is hashed.
LATE_DEFAULTS: dict[str, Any] = {
    "model.vocab_size": None,
    "data.tokenizer": None,
    "optim.z_loss": 0.0,
}


@dataclass(frozen=True, kw_only=True)
class LMModel:
    """A Llama-style decoder built from a transformers config (never downloaded)."""

    hidden_size: int  # d_model
    num_layers: int  # transformer blocks
    num_heads: int  # attention heads (head_dim = hidden_size / num_heads)
    intermediate_size: int  # MLP width (SwiGLU)
    tie_word_embeddings: bool = True  # share input and output embeddings
    vocab_size: int | None = None  # embedding rows (padded); None: the pool tokenizer's size


@dataclass(frozen=True, kw_only=True)
class LMData:
    """How tokens are fed: packed sequences, a fixed token budget."""

    seq_len: int  # tokens per training sequence
    tokenizer: str | None = None  # tokenizer the pool must be tokenized with; None: the pool's own
    train_tokens: int  # token budget, fixed whatever the subset's size (small subsets repeat)
    global_batch_size: int  # sequences per optimizer step, over all processes
    micro_batch_size: int  # sequences per forward pass per process (memory knob only)


@dataclass(frozen=True, kw_only=True)
class ClipModel:
    """An open_clip model from a config file ``scales/clip/models/<config>.json``.

    The file is registered with open_clip (``add_model_config``) and its content is part
    of the recipe hash; its vision image size must match ``data.image_size``. A name with
    no file there is looked up among open_clip's built-in configs (``ViT-B-32``), read
    from the installed wheel, never downloaded.
    """

    config: str  # model config name (file stem under scales/clip/models/, or open_clip's)


@dataclass(frozen=True, kw_only=True)
class ClipData:
    """How image-text pairs are fed: a fixed number of samples seen."""

    image_size: int  # pixels per side of the preprocessed image cache the model reads
    train_samples: int  # samples seen, fixed whatever the subset's size (it is resampled)
    global_batch_size: int  # pairs per optimizer step over all processes (the contrastive batch)
    micro_batch_size: int  # pairs per forward pass per process (memory knob only)


@dataclass(frozen=True, kw_only=True)
class Optim:
    """AdamW with linear warm-up and cosine decay."""

    lr: float  # peak learning rate
    min_lr_ratio: float  # final lr as a fraction of lr
    warmup_steps: int  # linear warm-up from 0 to lr
    weight_decay: float  # decoupled, on matrices only (not norms, not biases)
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global grad norm; 0 disables
    z_loss: float = 0.0  # LM only: weight of the z-loss, mean of logsumexp(logits)**2 (PaLM)


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """How the run executes; does not change what is trained (except precision)."""

    precision: str = "auto"  # "auto" (bf16 where the hardware has it), "bf16", "fp32"
    compile: bool = False  # torch.compile the model
    num_threads: int = 0  # torch intra-op threads; 0 = all cores (shared among processes)
    parallel: str = "ddp"  # with several processes: "ddp" (replicas) or "fsdp" (fully_shard)
    checkpoint_every: int = 0  # steps between resume checkpoints; 0 = 5% marks, >= 5 min apart
    data_workers: int = 0  # CLIP: processes decoding a pool's encoded images (0: in the loop)
    # "auto": a GPU where there is one, else the CPU; "cuda": GPUs only (refused before the
    # first step where there are none, or too few for the model); "cpu": the CPU even
    # beside a GPU (a rehearsal of a GPU recipe, shrunk by overrides)
    device: str = "auto"


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    suite: str  # name of evals/<track>/<suite>.yaml
    batch_size: int = 32  # eval batch (speed only)
    # a folder holding the suite's eval data (suites whose data is not built with the pool:
    # dclm-core, datacomp); None: $BENCH_EVAL_DATA, else $BENCH_HOME/eval-data
    data_dir: str | None = None


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What the recipe is sized for, so users know what to expect."""

    hardware: str
    minutes: float  # wall time of train + eval on that hardware
    gpu_hours: float | None = None  # accelerator-hours of training, where published or measured


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """What both tracks' recipes hold; :class:`LMRecipe` and :class:`ClipRecipe` type the
    model and data sections and add what differs (the budget's unit, their own checks)."""

    name: str  # e.g. "lm-small"
    track: str  # "lm" | "clip"
    scale: str  # file stem, e.g. "small"
    pool: str  # pool name, e.g. "text-default"
    seed: int  # default seed; `bench train --seed` changes it
    model: Any  # LMModel or ClipModel, by track
    data: Any  # LMData or ClipData, by track
    optim: Optim
    runtime: Runtime = field(default_factory=Runtime)
    eval: EvalConfig
    expected: Expected
    overrides: tuple[str, ...] = ()  # the CLI overrides applied, as given
    standard: bool = True  # no override touched a fixed field
    sha256: str = ""  # hash over the fixed fields

    @property
    def examples_per_step(self) -> int:
        """Tokens (LM) or image-text pairs (CLIP) per optimizer step."""
        raise NotImplementedError

    @property
    def budget(self) -> int:
        """The fixed training budget: tokens (LM) or samples seen (CLIP)."""
        raise NotImplementedError

    @property
    def num_steps(self) -> int:
        return self.budget // self.examples_per_step

    def check_track(self) -> None:
        """The track's own cross-field checks."""

    def hashed_extras(self) -> dict[str, Any]:
        """What the recipe's hash covers beside its fields, by section."""
        return {}

    def estimated_params(self) -> int | None:
        """The model's parameter count from the recipe alone; None where it needs the model."""
        return None

    def activation_bytes(self, micro_batch: int) -> float:
        """Rough bytes one micro batch's stored activations take (0: not estimated)."""
        return 0.0

    def validate(self) -> None:
        d, o = self.data, self.optim
        check_seed(self.seed)
        self.check_track()
        if d.global_batch_size % d.micro_batch_size:
            raise RecipeError(
                f"recipe {self.name}: data.global_batch_size {d.global_batch_size} is not a "
                f"multiple of data.micro_batch_size {d.micro_batch_size}"
            )
        if self.num_steps < 1:
            raise RecipeError(
                f"recipe {self.name}: the budget {self.budget} is less than one "
                f"step ({self.examples_per_step})"
            )
        if not 0 <= o.warmup_steps < self.num_steps:
            raise RecipeError(
                f"recipe {self.name}: optim.warmup_steps {o.warmup_steps} must be in "
                f"[0, {self.num_steps}) (the number of steps)"
            )
        if self.runtime.precision not in ("auto", "bf16", "fp32"):
            raise RecipeError(
                f"recipe {self.name}: runtime.precision {self.runtime.precision!r} is not one "
                "of auto, bf16, fp32"
            )
        if self.runtime.device not in ("auto", "cuda", "cpu"):
            raise RecipeError(
                f"recipe {self.name}: runtime.device {self.runtime.device!r} is not one "
                "of auto, cuda, cpu"
            )
        if self.runtime.parallel not in ("ddp", "fsdp"):
            raise RecipeError(
                f"recipe {self.name}: runtime.parallel {self.runtime.parallel!r} is not one "
                "of ddp, fsdp"
            )
        if self.runtime.checkpoint_every < 0:
            raise RecipeError(
                f"recipe {self.name}: runtime.checkpoint_every must be >= 0 (0 = automatic), "
                f"got {self.runtime.checkpoint_every}"
            )
        for name, value in (("optim.lr", o.lr), ("data budget", self.budget)):
            if value <= 0:
                raise RecipeError(f"recipe {self.name}: {name} must be positive, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (tuples as lists)."""
        return {**dataclasses.asdict(self), "overrides": list(self.overrides)}


@dataclass(frozen=True, kw_only=True)
class LMRecipe(Recipe):
    """The LM track's recipe: a Llama trained on a fixed token budget."""

    model: LMModel
    data: LMData

    @property
    def examples_per_step(self) -> int:
        return self.data.seq_len * self.data.global_batch_size

    @property
    def budget(self) -> int:
        return self.data.train_tokens

    def estimated_params(self) -> int:
        """A Llama's parameter count from its dimensions (tied or untied embeddings)."""
        m = self.model
        h, i = m.hidden_size, m.intermediate_size
        per_layer = 4 * h * h + 3 * h * i + 2 * h  # attention, SwiGLU, two RMSNorms
        embed = (m.vocab_size or 0) * h * (1 if m.tie_word_embeddings else 2)
        return m.num_layers * per_layer + embed + h

    def activation_bytes(self, micro_batch: int) -> float:
        """bf16 activations stored for the backward (no recomputation) and the logits."""
        m = self.model
        tokens = micro_batch * self.data.seq_len
        per_token_layer = 2 * (12 * m.hidden_size + 4 * m.intermediate_size)
        logits = tokens * (m.vocab_size or 0) * 10  # bf16 logits, fp32 copy and its gradient
        return tokens * m.num_layers * per_token_layer + logits

    def check_track(self) -> None:
        if self.model.hidden_size % self.model.num_heads:
            raise RecipeError(
                f"recipe {self.name}: model.hidden_size {self.model.hidden_size} is not divisible "
                f"by model.num_heads {self.model.num_heads}"
            )


@dataclass(frozen=True, kw_only=True)
class ClipRecipe(Recipe):
    """The CLIP track's recipe: an open_clip model trained on a fixed number of samples."""

    model: ClipModel
    data: ClipData

    @property
    def examples_per_step(self) -> int:
        return self.data.global_batch_size

    @property
    def budget(self) -> int:
        return self.data.train_samples

    def check_track(self) -> None:
        size = clip_model_config(self.model.config).get("vision_cfg", {}).get("image_size")
        if size != self.data.image_size:
            raise RecipeError(
                f"recipe {self.name}: data.image_size {self.data.image_size} differs from the "
                f"model config's vision_cfg.image_size {size}"
            )

    def hashed_extras(self) -> dict[str, Any]:
        """The model config file is part of the recipe."""
        return {"model": {"config_json": clip_model_config(self.model.config)}}


RECIPES: dict[str, type[Recipe]] = {"lm": LMRecipe, "clip": ClipRecipe}  # by track


def _coerce(value: Any, typ: Any, where: str) -> Any:
    args = typing.get_args(typ)
    if type(None) in args:  # an optional field: None, or a value of the other type
        if value is None:
            return None
        typ = next(a for a in args if a is not type(None))
    if typ is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if typ is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    expected = {"int": int, "float": float, "str": str, "bool": bool}.get(
        getattr(typ, "__name__", "")
    )
    if expected is not None and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        raise RecipeError(f"{where}: expected {expected.__name__}, got {value!r}")
    return value


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a plain dict, rejecting unknown or missing keys."""
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: expected a mapping, got {data!r}")
    if cls is Recipe:  # the track's own recipe type
        track = data.get("track")
        if track not in RECIPES:
            raise RecipeError(f"{where}: track {track!r} is not one of {', '.join(RECIPES)}")
        cls = RECIPES[track]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecipeError(
            f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecipeError(f"{key} is missing")
            continue
        typ = hints[name]
        if dataclasses.is_dataclass(typ):
            kwargs[name] = _build(typ, data[name], key)
        else:
            kwargs[name] = _coerce(data[name], typ, key)
    return cls(**kwargs)


def _fixed_part(d: dict[str, Any]) -> dict[str, Any]:
    """The recipe's fields that define what is trained (hash input)."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key in ("overrides", "standard", "sha256", "seed", "expected"):
            continue
        if isinstance(value, dict):
            out[key] = {
                k: v
                for k, v in value.items()
                if f"{key}.{k}" not in FREE_KEYS
                and not (f"{key}.{k}" in LATE_DEFAULTS and v == LATE_DEFAULTS[f"{key}.{k}"])
            }
        else:
            out[key] = value
    return out


def clip_models_dir() -> Path:
    return scales_dir() / "clip" / "models"


def clip_model_file(config: str) -> Path:
    path = clip_models_dir() / f"{config}.json"
    if not path.is_file():
        valid = ", ".join(sorted(p.stem for p in clip_models_dir().glob("*.json"))) or "none"
        raise RecipeError(
            f"no CLIP model config {config!r}; valid: {valid}, or a built-in open_clip "
            "config name (e.g. ViT-B-32)"
        )
    return path


def clip_model_config(config: str) -> dict[str, Any]:
    """The open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) named ``config``.

    The repo's file ``scales/clip/models/<config>.json`` first; else open_clip's built-in
    config of that name (``ViT-B-32``, ``ViT-L-14``), read from the installed wheel. Names
    with a schema (``hf-hub:``, ``local-dir:``) are refused: a recipe never downloads.
    """
    import json

    if not (clip_models_dir() / f"{config}.json").is_file() and ":" not in config:
        import open_clip

        builtin = open_clip.get_model_config(config)
        if builtin is not None:
            return builtin
    return json.loads(clip_model_file(config).read_text())


def available_scales(track: str) -> list[str]:
    return sorted(p.stem for p in (scales_dir() / track).glob("*.yaml"))


def _add_if_optional(override: str, track: str) -> str:
    """``runtime.parallel=fsdp`` as ``++runtime.parallel=fsdp`` (set, adding it if absent)
    when it names a field with a default, which a recipe file may leave out."""
    path = override.split("=", 1)[0]
    if "=" not in override or path[:1] in "+~" or path.count(".") != 1:
        return override
    section, name = path.split(".")
    cls = typing.get_type_hints(RECIPES.get(track, Recipe)).get(section)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return override
    optional = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
    return f"++{override}" if name in optional else override


_DERIVED = ("scale", "overrides", "standard", "sha256")  # set by load_recipe, not by a file


def _check_key(override: str, track: str) -> None:
    """Refuse an override ``a.b=v`` whose key is no recipe field, listing the valid keys
    at the first unknown part (Hydra's own message lists none)."""
    key, sep, _ = override.lstrip("+").partition("=")
    if not sep or not all(part.isidentifier() for part in key.split(".")):
        return  # not a plain ``a.b=v``: Hydra's parser reports it
    hints = typing.get_type_hints(RECIPES.get(track, Recipe))
    cls: Any = RECIPES.get(track, Recipe)
    parts = key.split(".")
    for i, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in _DERIVED]
        if part not in names:
            where = f" of {'.'.join(parts[:i])}" if i else ""
            raise RecipeError(
                f"override {override!r}: unknown key {part!r}; valid keys{where}: "
                f"{', '.join(sorted(names))}"
            )
        cls = hints.get(part) if i == 0 else typing.get_type_hints(cls).get(part)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            return


def compose_dict(track: str, scale: str, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Read ``scales/<track>/<scale>.yaml`` with Hydra and apply ``overrides``."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    directory = scales_dir() / track
    if not is_file_stem(scale) or not (directory / f"{scale}.yaml").is_file():
        valid = ", ".join(available_scales(track)) or "none"
        raise RecipeError(f"no scale {scale!r} for track {track!r}; valid scales: {valid}")
    for o in overrides:
        _check_key(o, track)
    overrides = [_add_if_optional(o, track) for o in overrides]
    try:
        with initialize_config_dir(config_dir=str(directory.resolve()), version_base=None):
            cfg = compose(config_name=scale, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        first = str(exc).strip().splitlines()[0]
        raise RecipeError(f"bad override for scale {track}/{scale}: {first}") from None
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def load_recipe(
    track: str, scale: str, overrides: list[str] | tuple[str, ...] = (), seed: int | None = None
) -> Recipe:
    """The frozen, validated recipe for ``track``/``scale`` with ``overrides`` applied."""
    base = compose_dict(track, scale)
    raw = compose_dict(track, scale, overrides) if overrides else base
    raw = dict(raw, scale=scale)
    base = dict(base, scale=scale)
    if seed is not None:
        raw["seed"] = seed
    recipe = _build(Recipe, raw, f"scales/{track}/{scale}.yaml")
    recipe.validate()
    fixed = _fixed_part(recipe.to_dict())
    if base.get("runtime", {}).get("precision", "auto") == "auto":
        # An "auto" recipe admits either precision, so choosing one keeps the run standard;
        # the entry records the precision used, and the board never ranks two together.
        fixed["runtime"]["precision"] = "auto"
    standard = fixed == _fixed_part(_build(Recipe, base, "base").to_dict())
    for section, extra in recipe.hashed_extras().items():
        fixed[section].update(extra)
    return dataclasses.replace(
        recipe,
        overrides=tuple(overrides),
        standard=standard,
        sha256=sha256_bytes(canonical_json(fixed).encode()),
    )


def read_recipe(path: Path) -> Recipe:
    """The recipe a run recorded (``RUN_DIR/recipe.yaml``), its keys and types checked."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise RecipeError(f"{path}: not valid YAML ({first}); re-run the training") from None
    return _build(Recipe, raw, str(path))


def recipe_file(track: str, scale: str) -> Path:
    return scales_dir() / track / f"{scale}.yaml"
