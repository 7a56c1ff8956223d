"""Issue 19: no bad input ends in a traceback.

Every command and the files it reads, given something wrong: each case must end in one
line ``bench: error: ...`` on stderr that names the bad value, exit code 2, and leave no
file or folder behind. No case trains, evaluates or downloads: each fails before that.

A case is ``(id, argv, setup, expected)``: ``setup(ctx)`` writes the bad input under
``ctx.tmp`` (the working directory of the call) or a pool under ``ctx.home``; in
``argv``, ``{tmp}`` is that folder and ``{subset}`` a valid subset of the reduced pool.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli import main
from tests.conftest import REPO, TINY

POOL = "text-default-reduced"  # the tiny_pool fixture's pool
UID = "0123456789abcdef0123456789abcdef"  # valid hex, in no pool


@dataclass
class Ctx:
    tmp: Path  # the call's working directory, removed after the test
    home: Path  # $BENCH_HOME: pools a setup adds to it are removed after the test


Setup = Callable[[Ctx], None] | None


# ---- setup helpers: each returns a function that writes one bad input --------------------


def text(rel: str, content: str) -> Setup:
    def make(ctx: Ctx) -> None:
        path = ctx.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)

    return make


def raw(rel: str, content: bytes) -> Setup:
    def make(ctx: Ctx) -> None:
        path = ctx.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return make


def folder(rel: str) -> Setup:
    return lambda ctx: (ctx.tmp / rel).mkdir(parents=True, exist_ok=True)


def npy(rel: str, array: np.ndarray, truncate: int | None = None) -> Setup:
    def make(ctx: Ctx) -> None:
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=True)
        data = buf.getvalue()
        (ctx.tmp / rel).write_bytes(data[:truncate] if truncate else data)

    return make


def parquet(rel: str, columns: dict) -> Setup:
    def make(ctx: Ctx) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), ctx.tmp / rel)

    return make


def truncated_parquet(rel: str) -> Setup:
    def make(ctx: Ctx) -> None:
        parquet(rel, {"uid": [UID] * 100})(ctx)
        path = ctx.tmp / rel
        path.write_bytes(path.read_bytes()[:-20])

    return make


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def archive(rel: str, members: dict[str, bytes], cut: int | None = None) -> Setup:
    """A pool archive ``rel`` (gzip for .tar.gz, zstd for .tar.zst), cut to ``cut`` bytes."""

    def make(ctx: Ctx) -> None:
        data = tar_bytes(members)
        if rel.endswith(".gz"):
            data = gzip.compress(data)
        elif rel.endswith(".zst"):
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
        (ctx.tmp / rel).write_bytes(data[:cut] if cut else data)

    return make


def manifest(name: str, **extra) -> bytes:
    m = {"name": name, "version": "1", "track": "lm", "num_items": 1, "fingerprint": "0" * 64}
    return json.dumps({**m, "sources": [], **extra}).encode()


def pool_dir(name: str, manifest_text: str) -> Setup:
    """A pool folder in ``$BENCH_HOME/pools`` holding only ``manifest_text``."""

    def make(ctx: Ctx) -> None:
        root = ctx.home / "pools" / name
        root.mkdir(parents=True)
        (root / "manifest.json").write_text(manifest_text)

    return make


def entry_file(rel: str, source: str = "lm/xs/lm-xs-all-s0", **changes) -> Setup:
    """A committed leaderboard entry (and its details), changed: ``a__b=v`` sets
    ``entry[a][b] = v``; a value of ``None`` deletes the key."""

    def make(ctx: Ctx) -> None:
        entry = json.loads((REPO / "leaderboard" / f"{source}.json").read_text())
        for key, value in changes.items():
            *parents, last = key.split("__")
            obj = entry
            for p in parents:
                obj = obj[p]
            if value is None:
                del obj[last]
            else:
                obj[last] = value
        path = ctx.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entry))
        side = REPO / "leaderboard" / f"{source}.details.json.gz"
        shutil.copy(side, path.parent / entry["details"]["file"])

    return make


def run_dir(rel: str, recipe: str | None = None, **changes) -> Setup:
    """A run folder with a checkpoint/ and the lm xs recipe.yaml (``changes`` applied,
    or ``recipe`` as the file's text)."""

    def make(ctx: Ctx) -> None:
        import yaml

        from benchmark.config import load_recipe

        root = ctx.tmp / rel
        (root / "checkpoint").mkdir(parents=True)
        if recipe is None:
            d = load_recipe("lm", "xs").to_dict()
            for key, value in changes.items():
                *parents, last = key.split("__")
                obj = d
                for p in parents:
                    obj = obj[p]
                if value is None:
                    del obj[last]
                else:
                    obj[last] = value
            (root / "recipe.yaml").write_text(yaml.safe_dump(d))
        else:
            (root / "recipe.yaml").write_text(recipe)

    return make


def removed(pattern: str) -> Setup:
    def make(ctx: Ctx) -> None:
        for p in ctx.tmp.glob(pattern):
            p.unlink()

    return make


def both(*setups: Setup) -> Setup:
    def make(ctx: Ctx) -> None:
        for s in setups:
            if s is not None:
                s(ctx)

    return make


def jsonl(rel: str, *lines: str) -> Setup:
    return text(rel, "".join(line + "\n" for line in lines))


def datacomp_source(rel: str, tar_members: dict[str, bytes] | None, meta: bool | bytes) -> Setup:
    """A DataComp-style source folder: one shard ``0.tar`` and a ``meta.parquet``
    (valid with ``meta=True``, these bytes otherwise)."""

    def make(ctx: Ctx) -> None:
        root = ctx.tmp / rel
        root.mkdir(parents=True)
        if tar_members is not None:
            (root / "0.tar").write_bytes(tar_bytes(tar_members))
        if meta is True:
            parquet(f"{rel}/meta.parquet", {"uid": [UID]})(ctx)
        elif meta:
            (root / "meta.parquet").write_bytes(meta)

    return make


GOOD = {"text": "a plain document", "id": "doc-1"}
DCLM = ["pool", "import", "ext-pool", "--format", "dclm", "--source"]
DATACOMP = ["pool", "import", "ext-pool", "--format", "datacomp", "--source"]


def train(*opts: str, over: tuple[str, ...] = ()) -> list[str]:
    """``bench train --scale xs OPTS`` on the reduced pool (so that no case can build the
    full one), then the overrides ``over``."""
    head = ["train", "--scale", "xs", "--runs-dir", "{tmp}/runs", "--no-progress", *opts]
    return [*head, *TINY, *over]


HEX = np.array([UID], dtype="S32")

CASES: list[tuple[str, list[str], Setup, str]] = [
    # ---- argparse: usage errors print one line too --------------------------------------
    ("no-command", [], None, "the following arguments are required: command"),
    ("unknown-command", ["frobnicate"], None, "invalid choice: 'frobnicate'"),
    (
        "unknown-option",
        ["pool", "info", POOL, "--colour"],
        None,
        "unrecognized arguments: --colour; see `bench pool info --help`",
    ),
    ("pool-no-subcommand", ["pool"], None, "required: pool_command"),
    ("pool-unknown-subcommand", ["pool", "shrink"], None, "invalid choice: 'shrink'"),
    ("subset-no-subcommand", ["subset"], None, "required: subset_command"),
    ("evals-no-subcommand", ["evals"], None, "required: evals_command"),
    # ---- pool build ------------------------------------------------------------------------
    ("pool-build-no-name", ["pool", "build"], None, "required: name"),
    ("pool-build-unknown", ["pool", "build", "nope"], None, "no builder for pool 'nope'"),
    (
        "pool-build-max-docs-zero",
        ["pool", "build", "text-default", "--max-docs-per-source", "0"],
        None,
        "--max-docs-per-source must be at least 1, got 0",
    ),
    (
        "pool-build-max-docs-not-int",
        ["pool", "build", "text-default", "--max-docs-per-source", "ten"],
        None,
        "invalid int value: 'ten'",
    ),
    (
        "pool-build-bad-option",
        ["pool", "build", "text-default", "--fast"],
        None,
        "unrecognized arguments: --fast; see `bench pool build --help`",
    ),
    # ---- pool info -------------------------------------------------------------------------
    ("pool-info-not-built", ["pool", "info", "nope"], None, "pool 'nope' is not built"),
    ("pool-info-bad-name", ["pool", "info", "../pools"], None, "pool name '../pools'"),
    ("pool-info-empty-name", ["pool", "info", ""], None, "pool name ''"),
    (
        "pool-info-manifest-not-json",
        ["pool", "info", "broken"],
        pool_dir("broken", "{not json"),
        "manifest.json is not valid JSON",
    ),
    (
        "pool-info-manifest-a-list",
        ["pool", "info", "broken"],
        pool_dir("broken", "[]"),
        "manifest.json is not a JSON object",
    ),
    (
        "pool-info-manifest-missing-keys",
        ["pool", "info", "broken"],
        pool_dir("broken", '{"name": "broken"}'),
        "manifest.json lacks 'version'",
    ),
    # ---- pool export -----------------------------------------------------------------------
    ("pool-export-no-out", ["pool", "export", POOL], None, "required: --out"),
    (
        "pool-export-not-built",
        ["pool", "export", "nope", "--out", "x.tar"],
        None,
        "pool 'nope' is not built",
    ),
    (
        "pool-export-bad-suffix",
        ["pool", "export", POOL, "--out", "pool.zip"],
        None,
        "pool.zip: unknown file type",
    ),
    (
        "pool-export-out-is-dir",
        ["pool", "export", POOL, "--out", "{tmp}/dir.tar"],
        folder("dir.tar"),
        "is a directory",
    ),
    (
        "pool-export-parent-is-file",
        ["pool", "export", POOL, "--out", "{tmp}/file/pool.tar"],
        text("file", "x"),
        "is not a directory",
    ),
    # ---- pool import: archives -------------------------------------------------------------
    ("pool-import-missing", ["pool", "import", "{tmp}/no.tar"], None, "no.tar not found"),
    (
        "pool-import-bad-suffix",
        ["pool", "import", "{tmp}/pool.zip"],
        raw("pool.zip", b"PK\x03\x04"),
        "unknown file type",
    ),
    (
        "pool-import-garbage-tar",
        ["pool", "import", "{tmp}/pool.tar"],
        raw("pool.tar", b"this is no tar archive" * 40),
        "cannot be read",
    ),
    (
        "pool-import-truncated-gz",
        ["pool", "import", "{tmp}/pool.tar.gz"],
        archive("pool.tar.gz", {"p/manifest.json": manifest("p"), "p/x": bytes(5000)}, cut=60),
        "cannot be read",
    ),
    (
        "pool-import-truncated-zst",
        ["pool", "import", "{tmp}/pool.tar.zst"],
        archive("pool.tar.zst", {"p/manifest.json": manifest("p"), "p/x": bytes(5000)}, cut=40),
        "cannot be read",
    ),
    (
        "pool-import-truncated-tar",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/manifest.json": manifest("p"), "p/x": bytes(5000)}, cut=3000),
        "cannot be read",
    ),
    (
        "pool-import-truncated-xz",
        ["pool", "import", "{tmp}/pool.tar.xz"],
        archive("pool.tar.xz", {"p/manifest.json": manifest("p"), "p/x": bytes(5000)}, cut=50),
        "cannot be read",
    ),
    (
        "pool-import-no-manifest",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/readme.txt": b"hi"}),
        "expected one pool folder with a manifest.json",
    ),
    (
        "pool-import-two-folders",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/manifest.json": manifest("p"), "q/x": b""}),
        "expected one pool folder",
    ),
    (
        "pool-import-manifest-not-json",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/manifest.json": b"{oops"}),
        "manifest.json is not valid JSON",
    ),
    (
        "pool-import-manifest-wrong-name",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/manifest.json": manifest("q")}),
        "folder 'p' holds pool 'q'",
    ),
    (
        "pool-import-no-shards",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/manifest.json": manifest("p")}),
        "pool.tar: p/ has no docs-*.parquet shards; export the pool again",
    ),
    (
        "pool-import-bad-shard",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"p/manifest.json": manifest("p"), "p/docs-00000.parquet": b"x"}),
        "unreadable pool shards",
    ),
    (
        "pool-import-bad-folder-name",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {"a b/manifest.json": manifest("a b")}),
        "pool name 'a b'",
    ),
    (
        "pool-import-exists",
        ["pool", "import", "{tmp}/pool.tar"],
        archive("pool.tar", {f"{POOL}/manifest.json": manifest(POOL)}),
        "already exists",
    ),
    (
        "pool-import-source-without-format",
        ["pool", "import", "{tmp}/pool.tar", "--source", "{tmp}"],
        None,
        "--source is for external imports",
    ),
    # ---- pool import: external (dclm, datacomp) ---------------------------------------------
    ("dclm-unknown-format", [*DCLM[:3], "--format", "warc"], None, "invalid choice: 'warc'"),
    ("dclm-no-source", DCLM[:5], None, "--format needs --source DIR"),
    ("dclm-source-missing", [*DCLM, "{tmp}/nowhere"], None, "is not a directory"),
    ("dclm-source-a-file", [*DCLM, "{tmp}/f"], text("f", "x"), "is not a directory"),
    ("dclm-source-empty", [*DCLM, "{tmp}/src"], folder("src"), "no jsonl shards"),
    (
        "dclm-bad-json-line",
        [*DCLM, "{tmp}/src"],
        jsonl("src/a.jsonl", json.dumps(GOOD), "{oops"),
        "a.jsonl:2: malformed JSON line",
    ),
    (
        "dclm-line-not-object",
        [*DCLM, "{tmp}/src"],
        jsonl("src/a.jsonl", "[1, 2]"),
        "a.jsonl:1: no 'text' string field (has: list)",
    ),
    (
        "dclm-text-not-string",
        [*DCLM, "{tmp}/src"],
        jsonl("src/a.jsonl", '{"text": 5}'),
        "a.jsonl:1: no 'text' string field",
    ),
    (
        "dclm-not-utf8",
        [*DCLM, "{tmp}/src"],
        raw("src/a.jsonl", b'{"text": "\xff\xfe"}\n'),
        "a.jsonl:1: malformed JSON line",
    ),
    (
        "dclm-corrupt-zst",
        [*DCLM, "{tmp}/src"],
        raw("src/a.jsonl.zst", b"not zstd at all"),
        "a.jsonl.zst: cannot be read",
    ),
    (
        "dclm-only-blank-lines",
        [*DCLM, "{tmp}/src"],
        text("src/a.jsonl", "\n\n"),
        "hold no documents",
    ),
    (
        "dclm-repeated-id",
        [*DCLM, "{tmp}/src"],
        jsonl("src/a.jsonl", json.dumps(GOOD), json.dumps(GOOD)),
        "repeated uid",
    ),
    (
        "dclm-id-field-absent",
        [*DCLM, "{tmp}/src", "--id-field", "meta.key"],
        jsonl("src/a.jsonl", json.dumps(GOOD)),
        "no 'meta.key' field (--id-field)",
    ),
    ("dclm-workers-zero", [*DCLM, "{tmp}", "--workers", "0"], None, "--workers must be at least 1"),
    ("dclm-workers-not-int", [*DCLM, "{tmp}", "--workers", "x"], None, "invalid int value: 'x'"),
    (
        "dclm-bad-tokenizer",
        [*DCLM, "{tmp}/src", "--tokenizer", "nonesuch"],
        jsonl("src/a.jsonl", json.dumps(GOOD)),
        "--tokenizer 'nonesuch' is neither",
    ),
    (
        "dclm-tokenizer-folder-without-json",
        [*DCLM, "{tmp}/src", "--tokenizer", "{tmp}/tok"],
        both(jsonl("src/a.jsonl", json.dumps(GOOD)), folder("tok")),
        "no tokenizer.json in that folder",
    ),
    (
        "dclm-clip-tokenizer",
        [*DCLM, "{tmp}/src", "--tokenizer", "openai-clip"],
        jsonl("src/a.jsonl", json.dumps(GOOD)),
        "clip pools only",
    ),
    (
        "dclm-evals-from-missing",
        [*DCLM, "{tmp}/src", "--evals-from", "nope"],
        jsonl("src/a.jsonl", json.dumps(GOOD)),
        "--evals-from nope: pool not built",
    ),
    ("dclm-bad-name", ["pool", "import", "a/b", *DCLM[3:], "{tmp}"], None, "pool name 'a/b'"),
    (
        "dclm-embedded-name",
        ["pool", "import", "text-default", *DCLM[3:], "{tmp}"],
        None,
        "is an embedded pool's name",
    ),
    (
        "dclm-exists",
        ["pool", "import", "mine", *DCLM[3:], "{tmp}"],
        pool_dir("mine", manifest("mine").decode()),
        "pool 'mine' already exists",
    ),
    ("dclm-metadata", [*DCLM, "{tmp}", "--metadata", "m.parquet"], None, "--metadata is for"),
    ("dclm-encoded", [*DCLM, "{tmp}", "--encoded"], None, "--encoded is for"),
    ("datacomp-id-field", [*DATACOMP, "{tmp}", "--id-field", "x"], None, "--id-field is for"),
    (
        "datacomp-image-sizes-not-int",
        [*DATACOMP, "{tmp}", "--image-sizes", "32,big"],
        None,
        "argument --image-sizes: 'big' is not a size in pixels",
    ),
    (
        "datacomp-image-sizes-small",
        [*DATACOMP, "{tmp}", "--image-sizes", "4"],
        None,
        "sizes of at least 8 px",
    ),
    ("datacomp-source-empty", [*DATACOMP, "{tmp}/src"], folder("src"), "no webdataset shards"),
    (
        "datacomp-metadata-missing",
        [*DATACOMP, "{tmp}/src", "--metadata", "{tmp}/none.parquet"],
        datacomp_source("src", {}, meta=False),
        "none.parquet does not exist",
    ),
    (
        "datacomp-metadata-corrupt",
        [*DATACOMP, "{tmp}/src"],
        datacomp_source("src", {}, meta=b"PAR1 garbage"),
        "meta.parquet: not a readable parquet file",
    ),
    (
        "datacomp-metadata-no-uid",
        [*DATACOMP, "{tmp}/src", "--metadata", "{tmp}/m.parquet"],
        both(datacomp_source("src", {}, meta=False), parquet("m.parquet", {"id": [1]})),
        "no 'uid' column",
    ),
    (
        "datacomp-corrupt-tar",
        [*DATACOMP, "{tmp}/src"],
        both(datacomp_source("src", None, meta=True), raw("src/0.tar", b"garbage" * 100)),
        "0.tar: not a readable tar",
    ),
    (
        "datacomp-sample-without-image",
        [*DATACOMP, "{tmp}/src"],
        datacomp_source("src", {f"{UID}.txt": b"a caption"}, meta=True),
        "no image",
    ),
    (
        "datacomp-bad-image",
        [*DATACOMP, "{tmp}/src"],
        datacomp_source("src", {f"{UID}.jpg": b"not a jpeg"}, meta=True),
        "cannot be decoded",
    ),
    (
        "datacomp-evals-from-lm-pool",
        [*DATACOMP, "{tmp}/src", "--evals-from", POOL],
        datacomp_source("src", {}, meta=True),
        f"--evals-from {POOL}: not a clip pool",
    ),
    # ---- select ----------------------------------------------------------------------------
    ("select-nothing", ["select"], None, "needs METHOD --pool POOL --out FILE"),
    (
        "select-unknown-method",
        ["select", "best", "--pool", POOL, "--out", "s.txt"],
        None,
        "unknown selection method 'best'",
    ),
    (
        "select-unknown-option",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--opt", "colour=red"],
        None,
        "method random has no option 'colour'",
    ),
    (
        "select-opt-without-value",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--opt", "fraction"],
        None,
        "expected KEY=VALUE",
    ),
    (
        "select-opt-bad-yaml",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--opt", "fraction=[0.5"],
        None,
        "--opt 'fraction=[0.5': VALUE is not valid YAML",
    ),
    (
        "select-opt-wrong-type",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--opt", "fraction=half"],
        None,
        "option fraction of method random must be a number, got 'half'",
    ),
    (
        "select-opt-float-for-int",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--opt", "seed=1.5"],
        None,
        "option seed of method random must be a whole number, got 1.5",
    ),
    (
        "select-opt-bad-bool",
        ["select", "gopher", "--pool", POOL, "--out", "s.txt", "--opt", "repetition=maybe"],
        None,
        "option repetition of method gopher must be true or false, got 'maybe'",
    ),
    (
        "select-opt-bad-list",
        ["select", "langid", "--pool", POOL, "--out", "s.txt", "--opt", "languages=5"],
        None,
        "option languages of method langid must be a list of names, e.g. [a, b], got 5",
    ),
    (
        "select-fraction-out-of-range",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--fraction", "2"],
        None,
        "--fraction must be in (0, 1], got 2.0",
    ),
    (
        "select-fraction-not-number",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--fraction", "most"],
        None,
        "invalid float value: 'most'",
    ),
    (
        "select-negative-seed",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--seed", "-1"],
        None,
        "seed must be in [0, 2**32 - 1], got -1",
    ),
    (
        "select-minhash-threshold",
        ["select", "minhash-dedup", "--pool", POOL, "--out", "s.txt", "--opt", "threshold=2"],
        None,
        "threshold must be in (0, 1], got 2",
    ),
    (
        "select-out-bad-suffix",
        ["select", "random", "--pool", POOL, "--out", "s.csv"],
        None,
        "unknown subset format '.csv'",
    ),
    (
        "select-out-is-dir",
        ["select", "random", "--pool", POOL, "--out", "{tmp}/d.txt"],
        folder("d.txt"),
        "is a directory",
    ),
    (
        "select-pool-unknown",
        ["select", "random", "--pool", "nope", "--out", "s.txt"],
        None,
        "pool 'nope' is not built and has no builder",
    ),
    (
        "select-wrong-track",
        ["select", "caption-filter", "--pool", POOL, "--out", "s.txt"],
        None,
        "method caption-filter needs a clip pool",
    ),
    (
        "select-unknown-source",
        ["select", "sources", "--pool", POOL, "--out", "s.txt", "--sources", "nowhere"],
        None,
        "unknown source 'nowhere'",
    ),
    (
        "select-unknown-quality",
        ["select", "sources", "--pool", POOL, "--out", "s.txt", "--quality", "shiny"],
        None,
        "unknown quality 'shiny'",
    ),
    (
        "select-sources-option-on-random",
        ["select", "random", "--pool", POOL, "--out", "s.txt", "--exclude"],
        None,
        "method random has no option 'exclude'",
    ),
    (
        "select-fasttext-positives-missing",
        ["select", "fasttext", "--pool", POOL, "--out", "s.txt", "--opt", "positives=no.txt"],
        None,
        "positives file no.txt not found",
    ),
    # ---- subset check: every accepted format, broken -----------------------------------------
    ("subset-no-pool", ["subset", "check", "{subset}"], None, "required: --pool"),
    ("subset-missing", ["subset", "check", "no.txt", "--pool", POOL], None, "does not exist"),
    (
        "subset-is-dir",
        ["subset", "check", "{tmp}/d.txt", "--pool", POOL],
        folder("d.txt"),
        "is not a file",
    ),
    (
        "subset-unknown-format",
        ["subset", "check", "{tmp}/s.csv", "--pool", POOL],
        text("s.csv", UID),
        "unknown subset format '.csv'",
    ),
    (
        "subset-pool-not-built",
        ["subset", "check", "{subset}", "--pool", "nope"],
        None,
        "pool 'nope' is not built",
    ),
    (
        "txt-bad-hex",
        ["subset", "check", "{tmp}/s.txt", "--pool", POOL],
        text("s.txt", f"{UID}\n{'g' * 32}\n"),
        "line 2: 'gggggggggggggggggggggggggggggggg' is not a 32-hex uid",
    ),
    (
        "txt-short-line",
        ["subset", "check", "{tmp}/s.txt", "--pool", POOL],
        text("s.txt", f"# my subset\n{UID}\nabc\n"),
        "line 3: 'abc' is not a 32-hex uid",
    ),
    (
        "txt-truncated",
        ["subset", "check", "{tmp}/s.txt", "--pool", POOL],
        text("s.txt", f"{UID}\n{UID[:20]}"),
        "line 2: '0123456789abcdef0123' is not a 32-hex uid",
    ),
    (
        "txt-binary",
        ["subset", "check", "{tmp}/s.txt", "--pool", POOL],
        raw("s.txt", bytes(range(256)) * 4),
        "is not a 32-hex uid",
    ),
    ("txt-empty", ["subset", "check", "{tmp}/s.txt", "--pool", POOL], text("s.txt", ""), "empty"),
    (
        "txt-only-comments",
        ["subset", "check", "{tmp}/s.txt", "--pool", POOL],
        text("s.txt", "# nothing\n\n"),
        "the subset is empty",
    ),
    (
        "txt-not-in-pool",
        ["subset", "check", "{tmp}/s.txt", "--pool", POOL],
        text("s.txt", UID + "\n"),
        f"none of its 1 uids are in pool {POOL}",
    ),
    (
        "npy-garbage",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        raw("s.npy", b"\x93NUMPY garbage" * 10),
        "not a plain .npy array",
    ),
    (
        "npy-not-npy",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        text("s.npy", UID),
        "s.npy: not a .npy file (no NUMPY header)",
    ),
    (
        "npy-truncated",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.repeat(HEX, 100), truncate=300),
        "not a plain .npy array",
    ),
    (
        "npy-truncated-header",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", HEX, truncate=20),
        "not a plain .npy array",
    ),
    (
        "npy-float-dtype",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.zeros(3)),
        "dtype float64 is not a uid array",
    ),
    (
        "npy-int-dtype",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.arange(3)),
        "dtype int64 is not a uid array",
    ),
    (
        "npy-float-pairs",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.zeros(2, dtype="f8,f8")),
        "is not a uid array",
    ),
    (
        "npy-pickled-objects",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.array([UID, None], dtype=object)),
        "not a plain .npy array",
    ),
    (
        "npy-bad-hex",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.array([UID, "z" * 32])),
        "element 1: 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' is not a 32-hex uid",
    ),
    (
        "npy-short-strings",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.array([b"abc"])),
        "element 0: 'abc' is not a 32-hex uid",
    ),
    (
        "npy-empty",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.zeros(0, dtype="u8,u8")),
        "the subset is empty",
    ),
    (
        "npy-halves-not-in-pool",
        ["subset", "check", "{tmp}/s.npy", "--pool", POOL],
        npy("s.npy", np.ones(2, dtype="u8,u8")),
        "none of its 2 uids are in pool",
    ),
    (
        "parquet-garbage",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        raw("s.parquet", b"PAR1" + bytes(100) + b"PAR1"),
        "s.parquet: not a readable parquet file",
    ),
    (
        "parquet-truncated",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        truncated_parquet("s.parquet"),
        "s.parquet: not a readable parquet file",
    ),
    (
        "parquet-empty-file",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        raw("s.parquet", b""),
        "s.parquet: not a readable parquet file",
    ),
    (
        "parquet-no-uid-column",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        parquet("s.parquet", {"id": [UID]}),
        "no 'uid' column (columns: id)",
    ),
    (
        "parquet-int-uids",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        parquet("s.parquet", {"uid": [1, 2]}),
        "column 'uid' must hold strings",
    ),
    (
        "parquet-null-uid",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        parquet("s.parquet", {"uid": [UID, None]}),
        "it has nulls",
    ),
    (
        "parquet-bad-hex",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        parquet("s.parquet", {"uid": [UID, "x" * 32]}),
        "element 1: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not a 32-hex uid",
    ),
    (
        "parquet-empty-table",
        ["subset", "check", "{tmp}/s.parquet", "--pool", POOL],
        parquet("s.parquet", {"uid": np.array([], dtype=str)}),
        "the subset is empty",
    ),
    # ---- train -----------------------------------------------------------------------------
    ("train-no-scale", ["train"], None, "required: --scale"),
    # the brief's examples, as typed: they fail before the (full, unbuilt) pool is touched
    (
        "train-negative-seed",
        ["train", "--scale", "xs", "--seed", "-1"],
        None,
        "seed must be in [0, 2**32 - 1], got -1",
    ),
    ("train-huge-seed", train("--seed", str(2**40)), None, "seed must be in [0, 2**32 - 1]"),
    ("train-seed-not-int", train("--seed", "one"), None, "invalid int value: 'one'"),
    (
        "train-seeds-not-ints",
        ["train", "--scale", "xs", "--seeds", "a,b"],
        None,
        "argument --seeds: 'a,b' is not a comma-separated list",
    ),
    ("train-seeds-empty", train("--seeds", ","), None, "argument --seeds: ',' is not"),
    ("train-seeds-repeated", train("--seeds", "0,1,0"), None, "repeats seed 0"),
    ("train-seeds-negative", train("--seeds", "0,-2"), None, "seed must be in [0, 2**32 - 1]"),
    ("train-seed-and-seeds", train("--seed", "1", "--seeds", "1,2"), None, "not both"),
    ("train-unknown-scale", ["train", "--scale", "huge"], None, "no scale 'huge' for track 'lm'"),
    ("train-scale-path", ["train", "--scale", "../clip/xs"], None, "no scale '../clip/xs'"),
    ("train-unknown-track", train("--track", "audio"), None, "invalid choice: 'audio'"),
    ("train-bad-wandb", train("--wandb", "maybe"), None, "invalid choice: 'maybe'"),
    ("train-nproc-zero", train("--nproc", "0"), None, "--nproc must be at least 1, got 0"),
    ("train-bad-name", train("--name", "my run"), None, "run name 'my run'"),
    (
        "train-runs-dir-is-file",
        ["train", "--scale", "xs", "--runs-dir", "{tmp}/f"],
        text("f", "x"),
        "--runs-dir",
    ),
    ("train-subset-missing", train("--subset", "no.npy"), None, "no.npy does not exist"),
    (
        "train-subset-bad-format",
        train("--subset", "{tmp}/s.json"),
        text("s.json", "[]"),
        "unknown subset format '.json'",
    ),
    (
        "train-subset-corrupt-parquet",
        train("--subset", "{tmp}/s.parquet"),
        raw("s.parquet", b"garbage"),
        "not a readable parquet file",
    ),
    (
        "train-subset-corrupt-npy",
        train("--subset", "{tmp}/s.npy"),
        npy("s.npy", np.repeat(HEX, 100), truncate=300),
        "not a plain .npy array",
    ),
    (
        "train-override-unknown-key",
        train(over=("optim.colour=red",)),
        None,
        "unknown key 'colour'; valid keys of optim: beta1, beta2",
    ),
    (
        "train-override-unknown-section",
        train(over=("colour=red",)),
        None,
        "override 'colour=red': unknown key 'colour'; valid keys: data, eval",
    ),
    ("train-override-bad-type", train(over=("optim.lr=fast",)), None, "expected float, got 'fast'"),
    ("train-override-float-for-int", train(over=("data.seq_len=1.5",)), None, "expected int"),
    ("train-override-bad-syntax", train(over=("optim.lr=[1",)), None, "bad override"),
    ("train-override-no-equals", train(over=("optim.lr",)), None, "bad override"),
    ("train-override-seed", train(over=("seed=-5",)), None, "seed must be in [0, 2**32 - 1]"),
    (
        "train-override-precision",
        train(over=("runtime.precision=fp16",)),
        None,
        "'fp16' is not one",
    ),
    ("train-override-suite", train(over=("eval.suite=nope",)), None, "no eval suite 'nope'"),
    ("train-override-pool", train(over=("pool=nope",)), None, "pool 'nope' is not built"),
    (
        "train-override-heads",
        train(over=("model.num_heads=7",)),
        None,
        "is not divisible by model.num_heads 7",
    ),
    (
        "train-clip-recipe-on-text-pool",
        ["train", "--track", "clip", "--scale", "xs", f"pool={POOL}"],
        None,
        "is a lm pool",
    ),
    # ---- submit ----------------------------------------------------------------------------
    ("submit-nothing", ["submit"], None, "required: run_dirs"),
    ("submit-no-run", ["submit", "{tmp}/nope"], None, "does not exist"),
    ("submit-run-is-file", ["submit", "{tmp}/f"], text("f", "x"), "f/entry.json does not exist"),
    (
        "submit-entry-not-json",
        ["submit", "{tmp}/run"],
        text("run/entry.json", "{oops"),
        "not valid JSON",
    ),
    (
        "submit-entry-a-list",
        ["submit", "{tmp}/run"],
        text("run/entry.json", "[]"),
        "schema violation at (top)",
    ),
    (
        "submit-entry-missing-key",
        ["submit", "{tmp}/run"],
        entry_file("run/entry.json", recipe=None),
        "'recipe' is a required property",
    ),
    (
        "submit-entry-wrong-type",
        ["submit", "{tmp}/run"],
        entry_file("run/entry.json", seed="zero"),
        "schema violation at seed",
    ),
    (
        "submit-entry-unknown-scale",
        ["submit", "{tmp}/run"],
        entry_file("run/entry.json", scale="huge"),
        "no scale 'huge'",
    ),
    (
        "submit-entry-pool-not-built",
        ["submit", "{tmp}/run"],
        entry_file("run/entry.json"),
        "pool 'text-default' is not built",
    ),
    # ---- leaderboard -------------------------------------------------------------------------
    ("leaderboard-bad-track", ["leaderboard", "--track", "audio"], None, "invalid choice: 'audio'"),
    ("leaderboard-board-missing", ["leaderboard", "--board", "{tmp}/nb"], None, "does not exist"),
    (
        "leaderboard-board-is-file",
        ["leaderboard", "--board", "{tmp}/f"],
        text("f", "x"),
        "is not a directory",
    ),
    (
        "leaderboard-entry-not-json",
        ["leaderboard", "--board", "{tmp}/b"],
        text("b/lm/xs/x.json", "{"),
        "x.json: not valid JSON",
    ),
    (
        "leaderboard-entry-missing-key",
        ["leaderboard", "--board", "{tmp}/b"],
        entry_file("b/lm/xs/x.json", metrics=None),
        "'metrics' is a required property",
    ),
    (
        "leaderboard-details-missing",
        ["leaderboard", "--board", "{tmp}/b"],
        both(entry_file("b/lm/xs/x.json"), removed("b/lm/xs/*.gz")),
        "are missing",
    ),
    # ---- verify ------------------------------------------------------------------------------
    ("verify-entry-missing", ["verify", "{tmp}/nope.json"], None, "is not an entry file"),
    ("verify-not-an-entry", ["verify", "{tmp}/x.txt"], text("x.txt", "{}"), "is not an entry file"),
    ("verify-board-empty", ["verify", "--board", "{tmp}/b"], folder("b"), "no entries under"),
    ("verify-board-missing", ["verify", "--board", "{tmp}/nb"], None, "no entries under"),
    (
        "verify-checkpoint-two-entries",
        ["verify", "{tmp}/b/lm/xs/x.json", "{tmp}/b/lm/xs/x.json", "--checkpoint", "{tmp}"],
        entry_file("b/lm/xs/x.json"),
        "--checkpoint re-evaluates one entry",
    ),
    (
        "verify-checkpoint-missing",
        ["verify", "{tmp}/b/lm/xs/x.json", "--checkpoint", "{tmp}/nock"],
        entry_file("b/lm/xs/x.json"),
        "nock: no such directory",
    ),
    (
        "verify-entry-not-json",
        ["verify", "--board", "{tmp}/b"],
        text("b/lm/xs/x.json", "{"),
        "1 of 1 entries failed verification",
    ),
    (
        "verify-entry-edited",
        ["verify", "{tmp}/b/lm/xs/x.json"],
        entry_file("b/lm/xs/x.json", metrics__headline__value=0.99),
        "1 of 1 entries failed verification",
    ),
    # ---- compare -----------------------------------------------------------------------------
    ("compare-one-entry", ["compare", "a.json"], None, "required: b"),
    (
        "compare-missing",
        ["compare", "{tmp}/a.json", "{tmp}/b.json", "--no-seeds"],
        None,
        "a.json does not exist",
    ),
    (
        "compare-a-directory",
        ["compare", "{tmp}/run", "{tmp}/run", "--no-seeds"],
        folder("run"),
        "is a directory",
    ),
    (
        "compare-not-json",
        ["compare", "{tmp}/a.json", "{tmp}/a.json", "--no-seeds"],
        text("a.json", "not json"),
        "a.json: not valid JSON",
    ),
    (
        "compare-missing-keys",
        ["compare", "{tmp}/a.json", "{tmp}/a.json", "--no-seeds"],
        text("a.json", '{"name": "x"}'),
        "is a required property",
    ),
    (
        "compare-wrong-types",
        ["compare", "{tmp}/a.json", "{tmp}/a.json", "--no-seeds"],
        entry_file("a.json", metrics__headline="high"),
        "schema violation at metrics/headline",
    ),
    (
        "compare-other-track",
        ["compare", "{tmp}/a/a.json", "{tmp}/b/b.json", "--no-seeds"],
        both(entry_file("a/a.json"), entry_file("b/b.json", source="clip/xs/clip-xs-all-s0")),
        "differ in track (lm vs clip): not comparable",
    ),
    (
        "compare-board-missing",
        ["compare", "{tmp}/a.json", "{tmp}/a.json", "--board", "{tmp}/nb"],
        entry_file("a.json"),
        "nb does not exist",
    ),
    # ---- report ------------------------------------------------------------------------------
    ("report-no-out", ["report"], None, "required: --out"),
    (
        "report-out-is-file",
        ["report", "--out", "{tmp}/f", "--board", "{tmp}/b"],
        both(text("f", "x"), folder("b")),
        "is not a directory",
    ),
    (
        "report-board-missing",
        ["report", "--out", "{tmp}/out", "--board", "{tmp}/nb"],
        None,
        "nb does not exist",
    ),
    (
        "report-bad-entry",
        ["report", "--out", "{tmp}/out", "--board", "{tmp}/b"],
        entry_file("b/lm/xs/x.json", track=None),
        "'track' is a required property",
    ),
    # ---- evals -------------------------------------------------------------------------------
    ("evals-no-suite", ["evals", "check"], None, "required: suite"),
    ("evals-unknown-suite", ["evals", "check", "nope"], None, "no eval suite 'nope'"),
    ("evals-glob-suite", ["evals", "check", "*"], None, "no eval suite '*'"),
    ("evals-path-suite", ["evals", "fetch", "../lm/core"], None, "no eval suite '../lm/core'"),
    ("evals-pool-suite", ["evals", "fetch", "core"], None, "reads the eval sets built with"),
    (
        "evals-dir-is-file",
        ["evals", "fetch", "datacomp", "--dir", "{tmp}/f"],
        text("f", "x"),
        "is not a directory",
    ),
    (
        "evals-standin-dir-is-file",
        ["evals", "standin", "dclm-core", "--dir", "{tmp}/f"],
        text("f", "x"),
        "is not a directory",
    ),
    ("evals-items-zero", ["evals", "standin", "datacomp", "--items", "0"], None, "at least 1"),
    ("evals-items-not-int", ["evals", "standin", "datacomp", "--items", "a"], None, "invalid int"),
    ("evals-items-on-check", ["evals", "check", "datacomp", "--items", "3"], None, "--items"),
    ("evals-quick-on-fetch", ["evals", "fetch", "datacomp", "--quick"], None, "--quick"),
    (
        "evals-check-empty-dir",
        ["evals", "check", "datacomp", "--dir", "{tmp}/d", "--quick"],
        folder("d"),
        "tasks of datacomp cannot read their data",
    ),
    # ---- rehearse ----------------------------------------------------------------------------
    ("rehearse-no-track", ["rehearse"], None, "required: track"),
    ("rehearse-bad-track", ["rehearse", "audio"], None, "invalid choice: 'audio'"),
    (
        "rehearse-workdir-is-file",
        ["rehearse", "lm", "--workdir", "{tmp}/f"],
        text("f", "x"),
        "--workdir",
    ),
    (
        "rehearse-board-is-file",
        ["rehearse", "lm", "--workdir", "{tmp}/w", "--board", "{tmp}/f"],
        text("f", "x"),
        "--board",
    ),
    # ---- eval --------------------------------------------------------------------------------
    ("eval-no-run", ["eval"], None, "required: run_dir"),
    ("eval-run-missing", ["eval", "{tmp}/nope"], None, "is not a run directory"),
    (
        "eval-no-checkpoint",
        ["eval", "{tmp}/run"],
        text("run/recipe.yaml", "name: x\n"),
        "is not a run directory",
    ),
    (
        "eval-recipe-not-yaml",
        ["eval", "{tmp}/run"],
        run_dir("run", recipe="name: [unclosed\n"),
        "recipe.yaml: not valid YAML",
    ),
    (
        "eval-recipe-a-list",
        ["eval", "{tmp}/run"],
        run_dir("run", recipe="- 1\n- 2\n"),
        "expected a mapping",
    ),
    (
        "eval-recipe-missing-key",
        ["eval", "{tmp}/run"],
        run_dir("run", pool=None),
        "recipe.yaml.pool is missing",
    ),
    (
        "eval-recipe-bad-type",
        ["eval", "{tmp}/run"],
        run_dir("run", eval__batch_size="big"),
        "expected int, got 'big'",
    ),
    (
        "eval-recipe-pool-not-built",
        ["eval", "{tmp}/run"],
        run_dir("run", pool="gone"),
        "pool 'gone' is not built",
    ),
    (
        "eval-recipe-unknown-suite",
        ["eval", "{tmp}/run"],
        run_dir("run", pool=POOL, eval__suite="gone"),
        "no eval suite 'gone'",
    ),
    (
        "eval-rescore-and-fresh",
        ["eval", "{tmp}/run", "--rescore", "--fresh"],
        None,
        "--rescore or --fresh, not both",
    ),
    (
        "eval-rescore-no-entry",
        ["eval", "{tmp}/run", "--rescore"],
        folder("run"),
        "entry.json does not exist",
    ),
    (
        "eval-rescore-entry-not-json",
        ["eval", "{tmp}/run", "--rescore"],
        text("run/entry.json", '{"name": '),
        "entry.json: not valid JSON",
    ),
    (
        "eval-rescore-entry-wrong-type",
        ["eval", "{tmp}/run", "--rescore"],
        entry_file("run/entry.json", metrics__tasks=[]),
        "schema violation at metrics/tasks",
    ),
    (
        "eval-rescore-entry-missing-key",
        ["eval", "{tmp}/run", "--rescore"],
        entry_file("run/entry.json", metrics=None),
        "'metrics' is a required property",
    ),
    (
        "eval-rescore-unknown-suite",
        ["eval", "{tmp}/run", "--rescore"],
        entry_file("run/entry.json", metrics__suite__name="gone"),
        "no eval suite 'gone'",
    ),
]


def _tree(*roots: Path) -> set[str]:
    return {str(p) for root in roots for p in root.rglob("*")}


def _shown_lines(stderr: str) -> list[str]:
    """The lines a terminal shows: a progress bar cleared with a carriage return is gone."""
    return [s for line in stderr.split("\n") if (s := line.rsplit("\r", 1)[-1].strip())]


@pytest.mark.parametrize(
    ("argv", "setup", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line(
    argv, setup, expected, tiny_pool, subset_file, bench_home, tmp_path, monkeypatch, capsys, caplog
):
    ctx = Ctx(tmp=tmp_path, home=bench_home)
    pools = bench_home / "pools"
    pools_before = set(pools.iterdir())
    monkeypatch.chdir(tmp_path)
    try:
        if setup is not None:
            setup(ctx)
        before = _tree(tmp_path, bench_home)
        args = [a.format(tmp=tmp_path, subset=subset_file) for a in argv]
        caplog.set_level(logging.INFO)
        capsys.readouterr()
        rc = main(args)
        err = capsys.readouterr().err
        lines = _shown_lines(err)
        assert rc == 2, err
        assert len(lines) == 1, err
        assert lines[0].startswith("bench: error: "), err
        assert expected in lines[0], lines[0]
        assert _tree(tmp_path, bench_home) == before, "the command left files behind"
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
        assert not logged, f"log lines beside the error: {logged}"
    finally:
        for p in set(pools.iterdir()) - pools_before:
            shutil.rmtree(p)
