"""Stand-in eval data for the published suites: a few made-up items per task, written in
exactly the on-disk layout that ``bench evals fetch`` writes, so that the evaluation of a
GPU scale can be rehearsed on a machine without internet (tests, ``bench evals standin``).

    write_standin(load_suite("lm", "dclm-core"), folder, items=4)

LM: each lm-eval data set is written into the ``datasets`` cache by ``datasets``' own
parquet builder (the cache a real download prepares: ``hf/datasets/<org>___<name>/...``),
with the columns the real data set has, so lm-eval's unmodified task code reads it; LLM
Foundry's files as jsonl. CLIP: DataComp's webdataset folders (``wds_<task>_test/``) with
small PNGs, labels and, for the WILDS and fairness tasks, the metadata vector (``npy``);
the retrieval sets in the ``datasets`` cache under ``hf_cache/``. The numbers scored on
stand-in data mean nothing: it exists to exercise the real code path.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.evaluate.data import HF_CACHE, HF_DATASETS, hf_name, task_config, wds_folder
from benchmark.evaluate.suite import Suite, TaskSpec

WORDS = (
    "the", "of", "and", "to", "in", "is", "that", "it", "was", "for", "river", "stone",
    "garden", "lamp", "window", "harbor", "letter", "morning", "winter", "bridge", "candle",
    "forest", "engine", "village", "market", "teacher", "doctor", "rabbit", "orange",
)  # fmt: skip


def _text(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, size=n)).capitalize()


def write_standin(suite: Suite, folder: Path, *, items: int = 4, seed: int = 0) -> Path:
    """Write ``items`` stand-in items per task of ``suite`` under ``folder`` (LM: at least
    the task's shots + 2, since lm-eval may draw shots from the test split)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if suite.track == "lm":
        _lm(suite, folder, items, rng)
    else:
        for spec in suite.tasks:
            _clip(spec, folder, items, rng)
    return folder


# ---- LM -------------------------------------------------------------------------------------


def _mc(rng, n: int, labels: str = "ABCD") -> dict[str, Any]:
    return {"text": [_text(rng, 3) for _ in range(n)], "label": list(labels[:n])}


# One row maker per data set (lm-eval's dataset_path, dataset_name): the real columns.
ROWS: dict[tuple[str, str | None], Callable[[np.random.Generator, int], dict[str, Any]]] = {
    ("hails/agieval-lsat-ar", None): lambda r, i: {
        "query": f"Q: {_text(r, 12)}? Answer Choices: (A)x (B)y (C)z (D)w (E)v\nA: Among A "
        "through E, the answer is",
        "choices": ["(A)x", "(B)y", "(C)z", "(D)w", "(E)v"],
        "gold": [int(i % 5)],
    },
    ("allenai/ai2_arc", "ARC-Easy"): lambda r, i: {
        "id": f"e{i}", "question": _text(r, 8) + "?", "choices": _mc(r, 4), "answerKey": "B"
    },
    ("allenai/ai2_arc", "ARC-Challenge"): lambda r, i: {
        "id": f"c{i}", "question": _text(r, 8) + "?", "choices": _mc(r, 4), "answerKey": "C"
    },
    ("aps/super_glue", "boolq"): lambda r, i: {
        "question": _text(r, 6).lower(), "passage": _text(r, 30) + ".", "idx": i, "label": i % 2
    },
    ("aps/super_glue", "copa"): lambda r, i: {
        "premise": _text(r, 7) + ".", "choice1": _text(r, 5) + ".", "choice2": _text(r, 5) + ".",
        "question": ("cause", "effect")[i % 2], "idx": i, "label": i % 2,
    },
    ("tau/commonsense_qa", None): lambda r, i: {
        "id": f"q{i}", "question": _text(r, 9) + "?", "question_concept": "stone",
        "choices": _mc(r, 5, "ABCDE"), "answerKey": "ABCDE"[i % 5],
    },
    ("Rowan/hellaswag", None): lambda r, i: {
        "ind": i, "activity_label": "Gardening", "ctx_a": _text(r, 10) + ".", "ctx_b": "then",
        "ctx": _text(r, 12), "endings": [_text(r, 6) + "." for _ in range(4)],
        "source_id": f"s{i}", "split": "val", "split_type": "indomain", "label": str(i % 4),
    },
    ("EleutherAI/lambada_openai", "default"): lambda r, i: {"text": _text(r, 25)},
    ("cais/mmlu", "*"): lambda r, i: {
        "question": _text(r, 9) + "?", "subject": "standin",
        "choices": [_text(r, 2) for _ in range(4)], "answer": i % 4,
    },
    ("allenai/openbookqa", "main"): lambda r, i: {
        "id": f"o{i}", "question_stem": _text(r, 8), "choices": _mc(r, 4), "answerKey": "A"
    },
    ("baber/piqa", None): lambda r, i: {
        "goal": _text(r, 8), "sol1": _text(r, 6), "sol2": _text(r, 6), "label": i % 2
    },
    ("lighteval/winograd_wsc", "wsc273"): lambda r, i: {
        "text": "The lamp fell on the stone because it was heavy.", "pronoun": "it",
        "pronoun_loc": 36, "quote": "it was heavy", "quote_loc": 36,
        "options": ["the lamp", "the stone"], "label": i % 2, "source": "standin",
    },
    ("allenai/winogrande", "winogrande_xl"): lambda r, i: {
        "sentence": f"{_text(r, 5)} because _ was {WORDS[i % len(WORDS)]}.",
        "option1": "Anna", "option2": "Maria", "answer": str(1 + i % 2),
    },
    ("rajpurkar/squad", "plain_text"): lambda r, i: {
        "id": f"sq{i}", "title": "Standin", "context": _text(r, 40) + ".",
        "question": _text(r, 6) + "?", "answers": {"text": ["river"], "answer_start": [0]},
    },
    ("EleutherAI/coqa", None): lambda r, i: {
        "id": f"cq{i}", "source": "standin", "story": _text(r, 40) + ".",
        "questions": {"input_text": [_text(r, 4) + "?" for _ in range(2)], "turn_id": [1, 2]},
        "answers": {
            "input_text": [WORDS[(i + k) % len(WORDS)] for k in range(2)],
            "span_start": [0, 0], "span_end": [1, 1], "span_text": ["a", "b"], "turn_id": [1, 2],
        },
    },
}  # fmt: skip


def _bigbench(rng, i: int) -> dict[str, Any]:
    choices = [_text(rng, 1) for _ in range(4)]
    return {
        "idx": i,
        "inputs": f"{_text(rng, 10)}\nA:",
        "targets": [choices[i % 4]],
        "multiple_choice_targets": choices,
        "multiple_choice_scores": [int(k == i % 4) for k in range(4)],
    }


def _jeopardy(rng, i: int) -> dict[str, Any]:
    return {
        "context": f"WORLD HISTORY: {_text(rng, 10)}",
        "continuation": WORDS[i % len(WORDS)],
        "category": "world_history",
    }


def _lm(suite: Suite, folder: Path, items: int, rng) -> None:
    from benchmark.evaluate.tasks import task_manager

    with tempfile.TemporaryDirectory() as tmp:
        manager = task_manager(suite, folder, Path(tmp))
        for spec in suite.tasks:
            n = max(items, spec.num_fewshot + 2)  # shots may be drawn from the test split
            cfg = task_config(manager, spec.runs)
            path, name = cfg.get("dataset_path"), cfg.get("dataset_name")
            if path == "json":  # our task files, materialised: absolute paths under folder
                for file in _data_files(cfg):
                    _write_jsonl(Path(file), [_jeopardy(rng, i) for i in range(n)])
                continue
            make = _bigbench if path == "hails/bigbench" else ROWS.get((path, name))
            make = make or ROWS[(path, "*")]  # one maker for every config (MMLU's subjects)
            splits = {
                cfg.get(k)
                for k in ("test_split", "validation_split", "training_split", "fewshot_split")
            }
            rows = {s: [make(rng, i) for i in range(n)] for s in splits if s}
            _write_hf(folder / HF_DATASETS, path, name, rows)


def _data_files(cfg: dict[str, Any]) -> list[str]:
    files = (cfg.get("dataset_kwargs") or {}).get("data_files", {})
    return [
        str(v) for value in files.values() for v in (value if isinstance(value, list) else [value])
    ]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _write_hf(
    cache: Path, path: str, name: str | None, splits: dict[str, list[dict]], features=None
) -> None:
    """Prepare ``path``/``name`` in the ``datasets`` cache as a download does, with
    ``datasets``' own parquet builder: ``<cache>/<org>___<name>/<config>/0.0.0/<hash>/``
    holding ``<name>-<split>.arrow`` and ``dataset_info.json`` (the builder is run in a
    scratch cache, then its folder is moved to the name a hub download gets)."""
    import shutil

    import datasets
    from datasets.data_files import DataFilesDict
    from datasets.naming import camelcase_to_snakecase
    from datasets.packaged_modules.parquet.parquet import Parquet

    org, _, base = path.rpartition("/")
    snake = camelcase_to_snakecase(base)
    config = name or "default"
    with tempfile.TemporaryDirectory() as tmp:
        for split, rows in splits.items():
            datasets.Dataset.from_list(rows, features=features).to_parquet(f"{tmp}/{split}.parquet")
        builder = Parquet(
            cache_dir=f"{tmp}/cache",
            dataset_name=snake,
            config_name=config,
            data_files=DataFilesDict.from_patterns(
                {split: [f"{split}.parquet"] for split in splits}, base_path=tmp
            ),
            hash="standin",
            features=features,
        )
        builder.download_and_prepare()
        dest = cache / (f"{org}___{snake}" if org else snake) / config / "0.0.0" / "standin"
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(builder.cache_dir, dest)


# ---- CLIP -----------------------------------------------------------------------------------


def _png(rng) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    pixels = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _clip(spec: TaskSpec, folder: Path, items: int, rng) -> None:
    if spec.kind == "retrieval":
        rows = [
            {"image": _pil(rng), "caption": [_text(rng, 5) for _ in range(5)]} for _ in range(items)
        ]
        _write_hf_images(folder / HF_CACHE, hf_name(spec), rows)
        return
    if spec.kind == "winogavil":
        rows = []
        for _ in range(items):
            cands = [_text(rng, 1).lower() for _ in range(10)]
            rows.append(
                {
                    "cue": _text(rng, 1).lower(),
                    "candidates": cands,
                    "associations": cands[:3],
                    "candidate_images": [_pil(rng) for _ in cands],
                }
            )
        _write_hf_images(folder / HF_CACHE, hf_name(spec), rows)
        return
    root = folder / wds_folder(spec)
    (root / "test").mkdir(parents=True, exist_ok=True)
    num_classes = 5
    (root / "classnames.txt").write_text("".join(f"{w}\n" for w in WORDS[:num_classes]))
    (root / "zeroshot_classification_templates.txt").write_text(
        "a photo of a {c}.\na drawing of the {c}.\n"
    )
    (root / "test" / "nshards.txt").write_text("1\n")
    with tarfile.open(root / "test" / "0.tar", "w") as tar:
        for i in range(items):
            members = {"png": _png(rng), "cls": str(i % num_classes).encode()}
            if spec.group_column is not None or spec.runs.startswith(("wilds/", "fairness/")):
                meta = np.array([i % 2, i % 3, i % num_classes], dtype=np.int64)
                buf = io.BytesIO()
                np.save(buf, meta)
                members["npy"] = buf.getvalue()
            for ext, data in members.items():
                info = tarfile.TarInfo(f"s{i:06d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def _pil(rng):
    from PIL import Image

    return Image.open(io.BytesIO(_png(rng)))


def _write_hf_images(cache: Path, path: str, rows: list[dict]) -> None:
    """:func:`_write_hf` for a data set with images (``datasets``' Image feature)."""
    import datasets

    if "candidate_images" in rows[0]:
        features = datasets.Features(
            {
                "cue": datasets.Value("string"),
                "candidates": datasets.Sequence(datasets.Value("string")),
                "associations": datasets.Sequence(datasets.Value("string")),
                "candidate_images": datasets.Sequence(datasets.Image()),
            }
        )
    else:
        features = datasets.Features(
            {"image": datasets.Image(), "caption": datasets.Sequence(datasets.Value("string"))}
        )
    _write_hf(cache, path, None, {"test": rows}, features=features)
