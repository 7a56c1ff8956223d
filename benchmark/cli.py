"""The ``bench`` command line: thin wrappers that parse, call one library function, print.

Errors the user can fix (:class:`BenchError`) print as one line on stderr with exit
code 2. Run ``bench COMMAND --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from benchmark.errors import BenchError


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
        f"{info['num_tokens']} tokens\nfingerprint {info['fingerprint']}\npath {info['path']}"
    )
    print(f"{'source':<18}{'quality':<10}{'items':>8}{'tokens':>11}  package")
    for s in info["sources"]:
        print(
            f"{s['name']:<18}{s['quality']:<10}{s['num_items']:>8}{s.get('num_tokens', 0):>11}  "
            f"{s['registry']}:{s['package']}={s['version']} ({s['licence']})"
        )
    return 0


def _select(args: argparse.Namespace) -> int:
    from benchmark.pool.build import ensure_pool
    from benchmark.select import select

    n = select(
        args.method, ensure_pool(args.pool), Path(args.out), fraction=args.fraction, seed=args.seed
    )
    print(f"{args.out}: {n} uids ({args.method})")
    return 0


def _subset_check(args: argparse.Namespace) -> int:
    from benchmark.pool.store import open_pool
    from benchmark.subset import load_subset, num_tokens

    pool = open_pool(args.pool)
    subset = load_subset(Path(args.file), pool)
    info = {
        "file": args.file,
        "pool": pool.name,
        "num_uids": subset.num_uids,
        "num_unique": subset.num_unique,
        "num_tokens": num_tokens(subset, pool),
        "sha256": subset.sha256,
    }
    if args.json:
        print(json.dumps(info))
    else:
        print(
            f"{args.file}: {info['num_uids']} uids ({info['num_unique']} unique), "
            f"{info['num_tokens']} tokens, sha256 {info['sha256']}"
        )
    return 0


def _train(args: argparse.Namespace) -> int:
    from benchmark.run import run_train

    path, entry = run_train(
        track=args.track,
        scale=args.scale,
        subset_file=Path(args.subset) if args.subset else None,
        seed=args.seed,
        name=args.name,
        overrides=args.overrides,
        runs_dir=Path(args.runs_dir),
        wandb_mode=args.wandb,
        progress=not args.no_progress,
    )
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
        f"  train {c['wall_seconds']:.0f}s at {c['tokens_per_second']:.0f} tok/s ({c['device']}, "
        f"{c['precision']}), eval {c['eval_seconds']:.0f}s"
    )
    print(f"entry: {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from benchmark.run import evaluate_run

    metrics = evaluate_run(Path(args.run_dir))
    print(json.dumps(metrics["headline"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
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

    s = sub.add_parser("select", help="write a baseline subset")
    s.add_argument("method")
    s.add_argument("--pool", required=True)
    s.add_argument("--out", required=True, help=".txt, .npy or .parquet")
    s.add_argument("--fraction", type=float, default=0.5)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_select)

    sc = sub.add_parser("subset", help="check a subset file")
    scsub = sc.add_subparsers(dest="subset_command", required=True)
    c = scsub.add_parser("check", help="validate a subset against its pool")
    c.add_argument("file")
    c.add_argument("--pool", required=True)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_subset_check)

    t = sub.add_parser("train", help="train and evaluate with a scale's fixed recipe")
    t.add_argument("--scale", required=True)
    t.add_argument("--track", default="lm", choices=["lm"])
    t.add_argument("--subset", help="subset file; default: the whole pool")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--name", help="run name (default: TRACK-SCALE-SUBSET-sSEED)")
    t.add_argument("--runs-dir", default="runs")
    t.add_argument("--wandb", default="offline", choices=["offline", "online", "disabled"])
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optim.lr=1e-3")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="re-run the eval suite on a run's checkpoint")
    e.add_argument("run_dir")
    e.set_defaults(func=_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
