"""The ``bench`` command line: thin wrappers that parse, call one library function, print.

Errors the user can fix (:class:`BenchError`) print as one line on stderr with exit
code 2. Run ``bench COMMAND --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import NoReturn

from benchmark.errors import BenchError, UsageError


def _pool_build(args: argparse.Namespace) -> int:
    from benchmark.pool.build import build_pool

    pool = build_pool(args.name, force=args.force, max_docs_per_source=args.max_docs_per_source)
    print(
        f"pool {pool.name}: {pool.num_items} items, "
        f"fingerprint {pool.fingerprint[:16]}… at {pool.root}"
    )
    return 0


def _pool_info(args: argparse.Namespace) -> int:
    from benchmark.pool.store import open_pool

    info = open_pool(args.name).summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"{info['name']} v{info['version']} ({info['track']}): {info['num_items']} items, "
        f"{info['num_tokens'] or 0} tokens\nfingerprint {info['fingerprint']}\npath {info['path']}"
    )
    print(f"{'source':<18}{'quality':<10}{'items':>8}{'tokens':>11}  package")
    for s in info["sources"]:
        if "package" not in s:  # an external pool's shard
            print(
                f"{s['name']:<17} {'-':<10}{s['num_items']:>8}{s.get('num_tokens', 0):>11}"
                f"  sha256 {s['sha256'][:16]}…"
            )
            continue
        quality, items = s.get("quality", "-"), s.get("num_items", "-")  # image sources: none
        print(
            f"{s['name']:<18}{quality:<10}{items:>8}{s.get('num_tokens', 0):>11}  "
            f"{s['registry']}:{s['package']}={s['version']} ({s['licence']})"
        )
    return 0


def _pool_export(args: argparse.Namespace) -> int:
    from benchmark.pool.importers.archive import describe_archive, export_pool

    out = export_pool(args.name, Path(args.out))
    print(f"pool {args.name} exported to {describe_archive(out)}")
    return 0


def _pool_import(args: argparse.Namespace) -> int:
    from benchmark.pool.importers.archive import import_pool
    from benchmark.pool.importers.external import import_external

    if args.format:  # an external pool: `bench pool import NAME --format F --source DIR`
        if not args.source:
            raise BenchError("--format needs --source DIR (the folder of shards)")
        pool = import_external(
            args.file,
            args.format,
            Path(args.source),
            engine=_engine(args),
            tokenizer=args.tokenizer,
            evals_from=args.evals_from,
            force=args.force,
            id_field=args.id_field,
            metadata=Path(args.metadata) if args.metadata else None,
            image_sizes=args.image_sizes,
            encoded=args.encoded,
            skip_bad_shards=args.skip_bad_shards,
        )
        print(
            f"pool {pool.name}: {pool.num_items} items, fingerprint {pool.fingerprint[:16]}… "
            f"at {pool.root}"
        )
        return 0
    external_only = {
        "--source": args.source,
        "--workers": args.workers != 1,
        "--engine": args.engine != "local",
        "--ray-address": args.ray_address,
        "--tokenizer": args.tokenizer != "train",
        "--evals-from": args.evals_from,
        "--id-field": args.id_field,
        "--metadata": args.metadata,
        "--image-sizes": args.image_sizes != [32, 64],
        "--encoded": args.encoded,
        "--skip-bad-shards": args.skip_bad_shards,
    }
    given = [flag for flag, value in external_only.items() if value]
    if given:
        raise UsageError(
            f"{given[0]} is for external imports (NAME --format dclm|datacomp --source DIR); "
            "an archive import takes FILE and --force only"
        )
    pool = import_pool(Path(args.file), force=args.force)
    print(
        f"pool {pool.name}: {pool.num_items} items, fingerprint {pool.fingerprint[:16]}… "
        f"verified, at {pool.root}"
    )
    return 0


def _select(args: argparse.Namespace) -> int:
    from benchmark.select import describe, select

    if args.list:
        for m in describe():
            opts = ", ".join(f"{k}={v!r}" for k, v in m["options"].items()) or "none"
            print(f"{m['method']:<15} [{m['track']}] {m['summary']}\n{'':<15} options: {opts}")
        return 0
    if not (args.method and args.pool and args.out):
        raise BenchError("bench select needs METHOD --pool POOL --out FILE (or --list)")
    from benchmark.pool.build import ensure_pool
    from benchmark.select import check_options
    from benchmark.subset import check_output

    options = check_options(args.method, _select_options(args))  # before the pool is built
    check_output(Path(args.out))
    engine = _engine(args)
    n = select(args.method, ensure_pool(args.pool), Path(args.out), engine=engine, **options)
    print(f"{args.out}: {n} uids ({args.method})")
    return 0


def _engine(args: argparse.Namespace):
    from benchmark.engine import Engine

    return Engine(args.engine, args.workers, args.ray_address)


def _add_engine(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help=f"{what}: this machine's processes, or a Ray cluster (one task per shard)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help=f"{what}: processes (local), tasks in flight (ray)"
    )
    p.add_argument("--ray-address", help="the Ray cluster (default: $RAY_ADDRESS, else local Ray)")


def _select_options(args: argparse.Namespace) -> dict:
    """The method's options: the common flags the user gave, then each ``--opt KEY=VALUE``
    (VALUE read as YAML: 0.8, true, [en, fr])."""
    import yaml

    options: dict = {}
    if args.fraction is not None:
        options["fraction"] = args.fraction
    if args.seed is not None:
        options["seed"] = args.seed
    if args.sources:
        options["sources"] = tuple(filter(None, args.sources.split(",")))
    if args.quality:
        options["qualities"] = tuple(filter(None, args.quality.split(",")))
    if args.exclude:
        options["exclude"] = True
    for item in args.opt:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--opt {item!r}: expected KEY=VALUE, e.g. --opt threshold=0.8")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UsageError(
                f"--opt {item!r}: VALUE is not valid YAML; quote text, e.g. --opt {key}='...'"
            ) from None
        options[key.replace("-", "_")] = tuple(parsed) if isinstance(parsed, list) else parsed
    return options


def _subset_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from benchmark.pool.store import open_pool
    from benchmark.subset import check_subset

    info = asdict(check_subset(Path(args.file), open_pool(args.pool)))
    info["file"] = args.file
    if args.json:
        print(json.dumps(info))
    else:
        tokens = "" if info["num_tokens"] is None else f"{info['num_tokens']} tokens, "
        print(
            f"{args.file}: {info['num_uids']} uids ({info['num_unique']} unique), "
            f"{tokens}sha256 {info['sha256']}"
        )
    return 0


def _subset_audit(args: argparse.Namespace) -> int:
    from benchmark.audit import audit
    from benchmark.config import load_recipe
    from benchmark.evaluate.suite import load_suite
    from benchmark.pool.store import open_pool
    from benchmark.run import eval_data_dir
    from benchmark.subset import check_subset_file, load_subset

    for f in filter(None, (args.file, args.against)):
        check_subset_file(Path(f))
    pool = open_pool(args.pool)
    recipe = load_recipe(pool.track, args.scale)
    suite = load_suite(pool.track, recipe.eval.suite)
    subset = load_subset(Path(args.file), pool)
    against = load_subset(Path(args.against), pool) if args.against else None
    data_dir = eval_data_dir(recipe.eval.data_dir, suite, pool)
    from benchmark.select.scan import using

    with using(_engine(args)):  # the pass over the documents
        report = audit(pool, subset, recipe, suite, data_dir, against)
    if args.json:
        print(json.dumps(report))
        return 0
    rep = report["repetition"]
    print(f"{args.file} on {pool.name}, scale {recipe.scale} ({suite.name} v{suite.version})")
    print(
        f"  repetition: {rep['num_uids']} uids, {rep['num_unique']} unique, "
        f"{rep['num_repeated']} repeated; {rep['budget']:,} {rep['budget_unit']} take "
        f"{rep['epochs']} pass(es) over it (each item seen about {rep['views']:g} times)"
    )
    print("  contamination (eval items found in the subset):")
    for task, c in report["contamination"].items():
        if not c["checked"]:
            print(f"    {task:<28} not checked: {c['why']}")
            continue
        uids = ", ".join(c["subset_uids"][:3]) + (" ..." if c["num_subset_uids"] > 3 else "")
        print(
            f"    {task:<28} {c['found']:>5} / {c['items']:<5} ({c['share']:.2%})"
            + (f"  by {c['num_subset_uids']} uids: {uids}" if c["found"] else "")
        )
    comp = report["composition"]
    print(f"  composition (share of the subset; against {comp['reference']}):")
    for key in [k for k in comp if k not in ("reference", "labels")]:
        parts = [f"{k} {v['subset']:.0%} ({v['difference']:+.0%})" for k, v in comp[key].items()]
        print(f"    {key}: " + ", ".join(parts))
    return 0


def _train(args: argparse.Namespace) -> int:
    from benchmark.run import run_seeds

    if args.seeds and args.seed is not None:
        raise BenchError("give --seed or --seeds, not both")
    seeds = args.seeds or [args.seed]
    runs = run_seeds(
        seeds,
        track=args.track,
        scale=args.scale,
        subset_file=Path(args.subset) if args.subset else None,
        name=args.name,
        overrides=args.overrides,
        runs_dir=Path(args.runs_dir),
        wandb_mode=args.wandb,
        progress=not args.no_progress,
        num_processes=args.nproc,
    )
    for path, entry in runs:
        m, c = entry["metrics"], entry["compute"]
        print(
            f"\n{entry['name']}: {entry['recipe']['name']}"
            f"{'' if entry['recipe']['standard'] else ' (NON-STANDARD)'}, "
            f"{entry['subset']['num_uids']} uids, seed {entry['seed']}"
        )
        print(f"  headline {m['headline']['name']} = {m['headline']['value']:.4f}")
        for task, t in m["tasks"].items():
            print(f"  {task:<28} {t['metric']:<14} {t['value']:.4f}")
        print(
            f"  train {c['wall_seconds']:.0f}s at {_rate(c)} "
            f"({c['device']}, {c['precision']}), eval {c['eval_seconds']:.0f}s"
        )
        print(f"entry: {path}")
    return 0


def _seed_list(text: str) -> list[int]:
    """``--seeds 0,1,2`` (argparse reports the error as one line)."""
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of whole numbers; e.g. --seeds 0,1,2"
        ) from None


def _image_sizes(text: str) -> list[int]:
    """``--image-sizes 32,64`` ('' for none)."""
    for x in text.split(","):
        if x and not x.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"{x!r} is not a size in pixels; e.g. --image-sizes 32,64 ('' for none)"
            )
    return [int(x) for x in text.split(",") if x]


def _rate(compute: dict) -> str:
    if "samples_per_second" in compute:
        return f"{compute['samples_per_second']:.0f} samples/s"
    return f"{compute['tokens_per_second']:.0f} tok/s"


def _eval(args: argparse.Namespace) -> int:
    from benchmark.run import evaluate_run, rescore_run

    if args.rescore and args.fresh:
        raise UsageError("give --rescore or --fresh, not both: --rescore runs no model")
    if args.rescore:
        metrics = rescore_run(Path(args.run_dir))
    else:
        metrics = evaluate_run(Path(args.run_dir), fresh=args.fresh)
    print(json.dumps(metrics["headline"]))
    return 0


def _submit(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.submit import submit

    for run_dir in args.run_dirs:
        path = submit(
            Path(run_dir),
            replace=args.replace,
            allow_nonstandard=args.allow_nonstandard,
            board=Path(args.board) if args.board else None,
        )
        print(f"submitted {run_dir} -> {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.verify import verify

    start = time.perf_counter()
    reports = verify(
        [Path(p) for p in args.entries],
        board=Path(args.board) if args.board else None,
        pools=args.pools,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        progress=not args.json,
    )
    bad = [r for r in reports if r.problems]
    if args.json:
        rows = [
            {"entry": str(r.path), **{k: getattr(r, k) for k in ("problems", "notes")}}
            for r in reports
        ]
        print(json.dumps(rows, indent=2))
    else:
        for r in reports:
            for line in r.problems:
                print(f"{r.path}: {line}")
        notes = sorted({n for r in reports for n in r.notes if not n.startswith("recipe of")})
        for n in notes:
            print(f"note: {n}")
    seconds = time.perf_counter() - start
    if bad:
        raise BenchError(
            f"{len(bad)} of {len(reports)} entries failed verification "
            f"({sum(len(r.problems) for r in bad)} problems, listed above; {seconds:.1f} s)"
        )
    print(
        f"verified {len(reports)} entries in {seconds:.1f} s: every number matches its "
        "per-item results"
    )
    return 0


def _board_path(args: argparse.Namespace) -> Path:
    from benchmark.leaderboard.entry import leaderboard_dir

    if not args.board:
        return leaderboard_dir()
    board = Path(args.board)
    if not board.is_dir():
        what = "is not a directory" if board.exists() else "does not exist"
        raise BenchError(f"--board {board} {what}; give a leaderboard directory")
    return board


def _leaderboard(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.tables import board_rows, format_board

    rows = board_rows(_board_path(args), args.track, args.scale)
    print(json.dumps(rows, indent=2) if args.json else format_board(rows))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.board import compare
    from benchmark.leaderboard.tables import format_compare

    res = compare(Path(args.a), Path(args.b), board=None if args.no_seeds else _board_path(args))
    print(json.dumps(res, indent=2) if args.json else format_compare(res))
    return 0


def _report(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.report import write_report

    page = write_report(_board_path(args), Path(args.out))
    print(f"report: {page}")
    return 0


def _evals(args: argparse.Namespace) -> int:
    from benchmark.evaluate import data
    from benchmark.evaluate.suite import find_suite
    from benchmark.io import check_output_dir

    if args.evals_command == "standin" and args.items < 1:
        raise BenchError(f"--items must be at least 1, got {args.items}")
    suite = find_suite(args.suite)
    if suite.data == "pool":
        raise BenchError(
            f"suite {suite.name} reads the eval sets built with its pool, not a folder; "
            "the published suites are: dclm-core, dclm-mmlu, datacomp"
        )
    folder = Path(args.dir) if args.dir else data.resolve(suite, Path(), None)
    check_output_dir(folder, "--dir" if args.dir else f"the eval data folder (${data.ENV})")
    if args.evals_command == "fetch":
        report = data.fetch(suite, folder)
    elif args.evals_command == "standin":
        from benchmark.evaluate.standin import write_standin

        write_standin(suite, folder, items=args.items)
        report = data.check(suite, folder)
    else:
        report = data.check(suite, folder, count=not args.quick)
    if args.json:
        print(json.dumps([vars(t) for t in report], indent=2))
    else:
        print(f"{'task':<48}{'found':<7}{'read':<6}{'items':>8}  version  where / error")
        for t in report:
            items = "-" if t.items is None else t.items
            print(
                f"{t.task:<48}{'yes' if t.found else 'NO':<7}{'yes' if t.readable else 'NO':<6}"
                f"{items:>8}  {t.version:<8} {t.error or t.where}"
            )
    bad = data.missing(report)
    if bad:
        raise BenchError(
            f"{len(bad)} of {len(report)} tasks of {suite.name} cannot read their data in "
            f"{folder}; fetch them with `bench evals fetch {suite.name} --dir {folder}`"
        )
    print(f"{suite.name} v{suite.version}: all {len(report)} tasks readable in {folder}")
    return 0


def _rehearse(args: argparse.Namespace) -> int:
    from benchmark.rehearsal import rehearse

    workdir = Path(args.workdir or f"runs/rehearsal-{args.track}")
    path, entry = rehearse(
        args.track, workdir, board=Path(args.board) if args.board else workdir / "board"
    )
    h = entry["metrics"]["headline"]
    print(f"{entry['name']}: {h['name']} {h['value']:.4f} (stand-in data), entry {path}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as :class:`UsageError` (one line, exit 2, like every
    other error); ``add_subparsers`` gives each sub-command's parser this class too."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bench", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    pool = sub.add_parser("pool", help="build or inspect a candidate pool")
    psub = pool.add_subparsers(dest="pool_command", required=True)
    b = psub.add_parser("build", help="build an embedded pool from registry material")
    b.add_argument("name")
    b.add_argument("--force", action="store_true", help="rebuild even if built")
    b.add_argument(
        "--max-docs-per-source",
        type=int,
        default=None,
        help="build a reduced pool NAME-reduced (for tests)",
    )
    b.set_defaults(func=_pool_build)
    i = psub.add_parser("info", help="show a built pool's manifest summary")
    i.add_argument("name")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_pool_info)
    ex = psub.add_parser("export", help="write a built pool to one archive file")
    ex.add_argument("name")
    ex.add_argument("--out", required=True, help=".tar, .tar.gz, .tar.xz or .tar.zst")
    ex.set_defaults(func=_pool_export)
    im = psub.add_parser(
        "import",
        help="install a pool from an archive (fingerprint checked), or import an external "
        "pool: NAME --format dclm|datacomp --source DIR",
    )
    im.add_argument("file", help="archive file; with --format, the new pool's NAME")
    im.add_argument("--force", action="store_true", help="replace an existing pool")
    im.add_argument("--format", choices=["dclm", "datacomp"], help="external pool format")
    im.add_argument("--source", help="external: folder of jsonl(.zst) or webdataset shards")
    _add_engine(im, "external")
    im.add_argument(
        "--skip-bad-shards",
        action="store_true",
        help="external: import a shard that cannot be read as empty, recorded in the manifest "
        "(default: stop with exit 2, nothing written)",
    )
    im.add_argument(
        "--tokenizer",
        default="train",
        help="external: 'train', 'openai-clip' (clip), a built pool, or a folder",
    )
    im.add_argument("--evals-from", help="external: built pool whose eval data to copy")
    im.add_argument("--id-field", help="dclm: the record field holding the id (a.b)")
    im.add_argument("--metadata", help="datacomp: parquet file or folder (default: source's)")
    im.add_argument(
        "--image-sizes",
        type=_image_sizes,
        default=[32, 64],
        help="datacomp: image cache sizes in px, comma-separated ('' for none)",
    )
    im.add_argument(
        "--encoded",
        action="store_true",
        help="datacomp: keep the image files' bytes; training decodes them as it streams "
        "(for 224 px pools too big for a decoded cache)",
    )
    im.set_defaults(func=_pool_import)

    s = sub.add_parser("select", help="write a baseline subset (--list: the methods)")
    s.add_argument("method", nargs="?")
    s.add_argument("--pool")
    s.add_argument("--out", help=".txt, .npy or .parquet (provenance in FILE.meta.json)")
    s.add_argument("--list", action="store_true", help="list the methods and their options")
    s.add_argument("--fraction", type=float, help="share of the pool to keep (score methods)")
    s.add_argument("--seed", type=int, help="seed of the method's random choices")
    s.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method option, repeatable (see --list)",
    )
    s.add_argument("--sources", default="", help="sources: comma-separated source names")
    s.add_argument("--quality", default="", help="sources: comma-separated quality labels")
    s.add_argument("--exclude", action="store_true", help="sources: keep everything else")
    _add_engine(s, "the methods that read every item")
    s.set_defaults(func=_select)

    sc = sub.add_parser("subset", help="check a subset file")
    scsub = sc.add_subparsers(dest="subset_command", required=True)
    c = scsub.add_parser("check", help="validate a subset against its pool")
    c.add_argument("file")
    c.add_argument("--pool", required=True)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_subset_check)
    a = scsub.add_parser(
        "audit", help="a subset's eval contamination, repetition and composition at a scale"
    )
    a.add_argument("file")
    a.add_argument("--pool", required=True)
    a.add_argument("--scale", required=True, help="the scale whose budget and suite to audit for")
    a.add_argument("--against", help="a reference subset file (default: the whole pool)")
    a.add_argument("--json", action="store_true")
    _add_engine(a, "the pass over the documents")
    a.set_defaults(func=_subset_audit)

    t = sub.add_parser(
        "train",
        help="train and evaluate with a scale's fixed recipe (re-run a killed run to resume it)",
    )
    t.add_argument("--scale", required=True)
    t.add_argument("--track", default="lm", choices=["lm", "clip"])
    t.add_argument("--subset", help="subset file; default: the whole pool")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument(
        "--seeds", type=_seed_list, help="comma-separated seeds, one run each (e.g. 0,1,2)"
    )
    t.add_argument("--name", help="run name (default: TRACK-SCALE-SUBSET-sSEED)")
    t.add_argument("--runs-dir", default="runs")
    t.add_argument("--wandb", default="offline", choices=["offline", "online", "disabled"])
    t.add_argument("--no-progress", action="store_true")
    t.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="processes to train with (torchrun's agent; DDP or FSDP per runtime.parallel; "
        "gloo on CPU, nccl on GPUs). Or: torchrun --nproc-per-node N -m benchmark.cli train ...",
    )
    t.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optim.lr=1e-3")
    t.set_defaults(func=_train)

    sb = sub.add_parser("submit", help="validate run entries and copy them into leaderboard/")
    sb.add_argument("run_dirs", nargs="+")
    sb.add_argument("--replace", action="store_true", help="overwrite an entry of that name")
    sb.add_argument(
        "--allow-nonstandard",
        action="store_true",
        help="accept runs with overrides of fixed recipe fields",
    )
    sb.set_defaults(func=_submit)

    sb.add_argument("--board", help="leaderboard directory (default: the repo's)")

    vf = sub.add_parser(
        "verify",
        help="re-check committed entries: schema, recipe, numbers vs per-item results, "
        "sidecar hash, subset source",
    )
    vf.add_argument("entries", nargs="*", help="entry JSON files (default: the whole board)")
    vf.add_argument("--board", help="leaderboard directory (default: the repo's)")
    vf.add_argument(
        "--pools",
        action="store_true",
        help="build missing embedded pools, check fingerprints and remake every subset",
    )
    vf.add_argument("--checkpoint", help="re-evaluate this run dir's checkpoint (one ENTRY)")
    vf.add_argument("--json", action="store_true")
    vf.set_defaults(func=_verify)

    lb = sub.add_parser("leaderboard", help="ranked table with 95%% intervals")
    lb.add_argument("--track", choices=["lm", "clip"])
    lb.add_argument("--scale")
    lb.add_argument("--json", action="store_true")
    lb.add_argument("--board", help="leaderboard directory (default: the repo's)")
    lb.set_defaults(func=_leaderboard)

    cp = sub.add_parser("compare", help="A vs B: paired bootstrap over eval items and seeds")
    cp.add_argument("a", help="entry JSON (leaderboard/... or runs/NAME/entry.json)")
    cp.add_argument("b")
    cp.add_argument("--json", action="store_true")
    cp.add_argument("--board", help="where to find the other seeds (default: the repo's)")
    cp.add_argument("--no-seeds", action="store_true", help="compare these two entries only")
    cp.set_defaults(func=_compare)

    rp = sub.add_parser("report", help="static HTML report with plots")
    rp.add_argument("--out", required=True, help="output directory")
    rp.add_argument("--board", help="leaderboard directory (default: the repo's)")
    rp.set_defaults(func=_report)

    ev = sub.add_parser("evals", help="a published suite's eval data: fetch, check, stand-in")
    evsub = ev.add_subparsers(dest="evals_command", required=True)
    for cmd, text in (
        ("fetch", "download a suite's data (needs internet) through lm-eval / DataComp's sources"),
        ("check", "audit a folder against a suite: per task found, readable, items, version"),
        ("standin", "write a few made-up items per task in the fetched layout (rehearsals)"),
    ):
        c = evsub.add_parser(cmd, help=text)
        c.add_argument("suite", help="dclm-core, datacomp (any suite with data: folder)")
        c.add_argument("--dir", help="the folder (default: $BENCH_EVAL_DATA, else in $BENCH_HOME)")
        c.add_argument("--json", action="store_true")
        if cmd == "check":
            c.add_argument("--quick", action="store_true", help="read one item per shard")
        if cmd == "standin":
            c.add_argument("--items", type=int, default=4, help="items per task")
        c.set_defaults(func=_evals)

    rh = sub.add_parser("rehearse", help="a GPU scale end to end on the CPU, on stand-in data")
    rh.add_argument("track", choices=["lm", "clip"])
    rh.add_argument("--workdir", help="default runs/rehearsal-TRACK")
    rh.add_argument("--board", help="where to submit the entry (default WORKDIR/board)")
    rh.set_defaults(func=_rehearse)

    e = sub.add_parser(
        "eval",
        help="re-run today's eval suite on a run's checkpoint and update its entry.json",
    )
    e.add_argument("run_dir")
    e.add_argument(
        "--rescore",
        action="store_true",
        help="re-aggregate the entry under today's suite version (same tasks) without the model",
    )
    e.add_argument(
        "--fresh",
        action="store_true",
        help="run every task again (default: reuse tasks a killed evaluation finished)",
    )
    e.set_defaults(func=_eval)
    return p


def _fail(exc: BenchError) -> int:
    """A user's error as one line on stderr (a library's text quoted in a message may span
    lines) and exit code 2."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    print(f"bench: error: {text}", file=sys.stderr)
    return 2


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line parsed; arguments no parser took name the command's help."""
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        words = [args.command, getattr(args, f"{args.command}_command", None)]
        prog = " ".join(["bench", *filter(None, words)])
        raise UsageError(f"unrecognized arguments: {' '.join(extra)}; see `{prog} --help`")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parse(argv)
    except UsageError as exc:
        return _fail(exc)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # lm-eval warns once per truncated context and datasets chats about caching.
    for noisy in ("lm_eval", "datasets", "httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return args.func(args)
    except BenchError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
