"""Write docs/validity.md and docs/validity.png: is the benchmark's signal above its noise?

From the study entries in ``leaderboard/`` (named ``<track>-<scale>-<method>-s<seed>``):
per track and scale, the seed std against the spread of method means (the bar: seed std
≤ 1/5 of the spread); the pairwise decision accuracy between consecutive scales
(DataDecide); per eval task, the same ratio and the item-bootstrap std; and a plot of
method means at the smaller scale against the larger. The page is dated by its newest
entry, so regenerating it from the same entries gives the same file.

    .venv/bin/python -m benchmark.studies.validity
    .venv/bin/python -m benchmark.studies.validity --leaderboard leaderboard --out docs/validity.md
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np

from benchmark.io import atomic_path
from benchmark.leaderboard.board import load_entries
from benchmark.studies.analysis import (
    BAR_RATIO,
    NOISE_RATIO,
    DecisionAccuracy,
    Method,
    collect_methods,
    decision_accuracy,
    scale_pairs,
    signal,
    task_noise,
)

REGENERATE = "`.venv/bin/python -m benchmark.studies.validity`"


def _f(x: float | None, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _by_scale(methods: list[Method]) -> dict[tuple[str, str], list[Method]]:
    out: dict[tuple[str, str], list[Method]] = {}
    for m in methods:
        out.setdefault((m.track, m.scale), []).append(m)
    return out


def _pairs(by_scale: dict[tuple[str, str], list[Method]]) -> list[tuple[str, str, str]]:
    tracks = sorted({t for t, _ in by_scale})
    return [
        (t, small, large)
        for t in tracks
        for small, large in scale_pairs(t, [s for tt, s in by_scale if tt == t])
    ]


def _accuracy(small: list[Method], large: list[Method], oracles: bool) -> DecisionAccuracy:
    means = [{m.name: m.mean for m in ms if oracles or not m.oracle} for ms in (small, large)]
    return decision_accuracy(*means, _mean_noise(small), _mean_noise(large))


def _no_large_noise(acc: DecisionAccuracy) -> bool:
    return not acc.pairs or acc.pairs[0].noise_large is None


def _mean_noise(methods: list[Method]) -> dict[str, float] | None:
    """Each method's seed std of its mean: the scale's pooled seed std over √seeds."""
    sigma = signal([m.headlines for m in methods]).seed_std
    return {m.name: sigma / len(m.seeds) ** 0.5 for m in methods} if sigma else None


def _noise_section(by_scale: dict[tuple[str, str], list[Method]]) -> list[str]:
    out = ["## 1. Seed noise against method spread", ""]
    for (track, scale), ms in by_scale.items():
        e = ms[0].entries[0]
        suite, head = e["metrics"]["suite"], e["metrics"]["headline"]["name"]
        pool, recipe = e["pool"]["fingerprint"][:12], e["recipe"]["sha256"][:12]
        out += [
            f"### {track} / {scale}",
            "",
            f"Suite `{suite['name']}` v{suite['version']}, pool `{pool}…`, recipe `{recipe}…`, "
            f"headline `{head}`.",
            "",
            _row("method", "seeds", "headline mean ± seed std"),
            _row("---", "---", "---"),
        ]
        for m in sorted(ms, key=lambda m: -m.mean):
            name = f"{m.name} (oracle)" if m.oracle else m.name
            seeds = f"{len(m.seeds)} ({', '.join(map(str, m.seeds))})"
            out.append(_row(name, seeds, f"{m.mean:.4f} ± {_f(m.std)}"))
        out.append("")
        for label, group in (
            ("all methods", ms),
            ("without oracles", [m for m in ms if not m.oracle]),
        ):
            s = signal([m.headlines for m in group])
            bar = {None: "n/a", True: "**yes**", False: "**no**"}[s.meets_bar]
            out.append(
                f"- {label} ({len(group)}): pooled seed std {_f(s.seed_std)}, spread "
                f"{_f(s.spread)}, spread / seed std {_f(s.ratio, '.1f')}; "
                f"seed std ≤ spread / {BAR_RATIO:g}: {bar}"
            )
        out.append("")
    return out


def _decision_section(by_scale: dict[tuple[str, str], list[Method]]) -> list[str]:
    out = [
        "## 2. Decision accuracy between scales",
        "",
        "Over every pair of methods run at both scales, the fraction whose order of mean "
        "headlines at the smaller scale is their order at the larger (DataDecide's pairwise "
        "decision accuracy). Oracle subsets use the pool's quality labels, so the accuracy is "
        "also given without them. *Resolved* pairs are those whose gap at the smaller scale "
        "exceeds twice its seed noise (the pooled seed std of that scale, over √seeds of each "
        "method). An unresolved pair is a coin flip at the smaller scale, so it bounds the "
        "accuracy whatever the larger scale does. The larger scale is measured with seed "
        "noise too: *resolved at both* pairs are also apart by twice the larger scale's "
        "noise, so a flip among them is a wrong prediction rather than either scale's noise "
        "(n/a where the larger scale has no method with two seeds).",
        "",
    ]
    pairs = _pairs(by_scale)
    if not pairs:
        return out + ["No track has entries at two scales yet.", ""]
    out += [
        _row(
            "track",
            "scales",
            "pairs",
            "agree",
            "accuracy",
            "pairs w/o oracles",
            "accuracy w/o oracles",
            "resolved w/o oracles",
            "accuracy on resolved",
            "resolved at both",
            "accuracy on both",
        ),
        _row(*["---"] * 11),
    ]
    disagree, limits = [], []
    for track, small, large in pairs:
        a, b = (by_scale[track, small], by_scale[track, large])
        acc, acc_no = _accuracy(a, b, True), _accuracy(a, b, False)
        out.append(
            _row(
                track,
                f"{small} → {large}",
                acc.num_pairs,
                acc.num_agree,
                _f(acc.accuracy, ".2f"),
                acc_no.num_pairs,
                _f(acc_no.accuracy, ".2f"),
                acc_no.resolved.num_pairs,
                _f(acc_no.resolved.accuracy, ".2f"),
                "n/a" if _no_large_noise(acc_no) else acc_no.resolved_both.num_pairs,
                _f(acc_no.resolved_both.accuracy, ".2f"),
            )
        )
        if acc.num_pairs:
            limits.append(_limits(track, small, large, acc))
        for d in acc.disagreements:
            noise = "" if d.noise_small is None else f" (noise {d.noise_small:.4f})"
            noise_l = "" if d.noise_large is None else f" (noise {d.noise_large:.4f})"
            disagree.append(
                f"- {track} {small} → {large}: `{d.a}` − `{d.b}` is {d.gap_small:+.4f}{noise} "
                f"at {small}, {d.gap_large:+.4f}{noise_l} at {large}"
            )
    out += ["", "What limits each figure (all pairs, oracles included):", *limits, ""]
    out += ["Disagreeing pairs:" if disagree else "No pair disagrees.", *disagree, ""]
    return out + _task_decisions(by_scale, pairs)


def _limits(track: str, small: str, large: str, acc: DecisionAccuracy) -> str:
    c = acc.flip_causes()
    flips = len(acc.disagreements)
    head = f"- {track} {small} → {large}: {flips} of {acc.num_pairs} pairs flip"
    if not flips:
        return head + "."
    if _no_large_noise(acc):
        return (
            f"{head}: {c['small']} within {small}'s seed noise, {c['large']} resolved at "
            f"{small}; {large}'s seed noise is unknown (none of its methods has two seeds)."
        )
    return (
        f"{head}: {c['small']} within {small}'s seed noise, {c['large']} resolved at {small} "
        f"but within {large}'s, {c['wrong']} resolved at both (a wrong prediction)."
    )


def _task_decisions(
    by_scale: dict[tuple[str, str], list[Method]], pairs: list[tuple[str, str, str]]
) -> list[str]:
    """Decision accuracy (without oracles) per eval task: whose ranking carries over best."""
    out = [
        "Per task (without oracles): the same accuracy computed from one task's score instead "
        "of the headline. DataDecide found continuous likelihood metrics predict the larger "
        "scale better than accuracy at small scales; this shows which of the suite's do.",
        "",
    ]
    for track in sorted({t for t, _, _ in pairs}):
        steps = [(s, lg) for t, s, lg in pairs if t == track]
        tasks = list(by_scale[track, steps[0][0]][0].entries[0]["metrics"]["tasks"])
        out += [_row("task", *(f"{track} {s} → {lg}" for s, lg in steps))]
        out += [_row(*["---"] * (1 + len(steps)))]
        for task in [None, *tasks]:
            cells = []
            for small, large in steps:
                means = [
                    {
                        m.name: m.mean if task is None else float(np.mean(m.task_values(task)))
                        for m in by_scale[track, scale]
                        if not m.oracle
                    }
                    for scale in (small, large)
                ]
                acc = decision_accuracy(*means)
                cells.append(f"{_f(acc.accuracy, '.2f')} ({acc.num_pairs})")
            out.append(_row("headline" if task is None else task, *cells))
        out.append("")
    return out


def _task_section(by_scale: dict[tuple[str, str], list[Method]], num_bootstrap: int) -> list[str]:
    out = [
        "## 3. Per-task noise",
        "",
        "Per task, on its main metric: the pooled seed std against the spread of method means. "
        f"Spread / seed std below {NOISE_RATIO:g} is marked *noise* (the task barely separates "
        f"the methods), at or above {BAR_RATIO:g} *high signal* (DCLM built its Core from such "
        "tasks). Item std: the std of one run's score over bootstrap resamples of the task's "
        f"items ({num_bootstrap} resamples, pooled over runs), the noise of a finite item set.",
        "",
    ]
    for (track, scale), ms in by_scale.items():
        out += [
            f"### {track} / {scale}",
            "",
            _row(
                "task",
                "metric",
                "in headline",
                "seed std",
                "spread",
                "spread / seed std",
                "item std",
                "signal",
            ),
            _row(*["---"] * 8),
        ]
        for t in task_noise(ms, num_bootstrap=num_bootstrap):
            s = t.signal
            out.append(
                _row(
                    t.task,
                    t.metric,
                    "yes" if t.in_headline else "",
                    _f(s.seed_std),
                    _f(s.spread),
                    _f(s.ratio, ".1f"),
                    _f(t.item_std),
                    t.label,
                )
            )
        out.append("")
    return out


def write_plot(by_scale: dict[tuple[str, str], list[Method]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    pairs = _pairs(by_scale)
    tracks = sorted({t for t, _, _ in pairs}) or ["none"]
    cols = max([sum(t == tr for t, _, _ in pairs) for tr in tracks] + [1])
    fig, axes = plt.subplots(
        len(tracks), cols, figsize=(5 * cols, 4.5 * len(tracks)), squeeze=False
    )
    if not pairs:
        axes[0, 0].text(0.5, 0.5, "no track has entries at two scales", ha="center")
        axes[0, 0].set_axis_off()
    for row, track in enumerate(tracks):
        for col, (_, small, large) in enumerate(p for p in pairs if p[0] == track):
            ax = axes[row, col]
            large_ms = {m.name: m for m in by_scale[track, large]}
            for m in by_scale[track, small]:
                if m.name not in large_ms:
                    continue
                n = large_ms[m.name]
                ax.errorbar(
                    m.mean,
                    n.mean,
                    xerr=m.std or 0,
                    yerr=n.std or 0,
                    fmt="s" if m.oracle else "o",
                    capsize=3,
                )
                ax.annotate(m.name, (m.mean, n.mean), xytext=(4, 4), textcoords="offset points")
            ax.xaxis.set_major_locator(MaxNLocator(5))  # 4-decimal ticks otherwise collide
            ax.set_xlabel(f"{small} headline (mean ± seed std)")
            ax.set_ylabel(f"{large} headline")
            ax.set_title(f"{track}: {small} → {large} (squares: oracle subsets)")
        for col in range(sum(p[0] == track for p in pairs), cols):
            axes[row, col].set_axis_off()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def render(
    entries: list[tuple[Path, dict]],
    methods: list[Method],
    skipped: list[str],
    *,
    board: Path,
    plot_link: str,
    num_bootstrap: int,
) -> str:
    by_scale = _by_scale(methods)
    newest = max((e["created"] for _, e in entries), default="no entries")
    lines = [
        "# Benchmark validity: signal against noise",
        "",
        f"Generated by `benchmark/studies/validity.py` from `{board}/` ({len(entries)} "
        f"entries, the newest created {newest}); do not edit by hand. "
        f"Regenerate with {REGENERATE}.",
        "",
        "Methods are the selection method each entry records (`subset.method.label`). "
        "Seed std is pooled over methods with at least 2 seeds (the root of the mean of their "
        "variances); spread is the best minus the worst method mean. *(oracle)*: a subset "
        "selected with the pool's quality labels (`junk-only`, `no-junk`).",
        "",
    ]
    if not methods:
        lines += ["No comparable entries.", ""]
    else:
        lines += _noise_section(by_scale)
        lines += _decision_section(by_scale)
        lines += _task_section(by_scale, num_bootstrap)
    lines += ["## 4. Scale against scale", "", f"![method means at two scales]({plot_link})", ""]
    if skipped:
        lines += ["## Skipped entries", "", *(f"- {s}" for s in skipped), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--leaderboard", type=Path, default=Path("leaderboard"))
    p.add_argument("--out", type=Path, default=Path("docs/validity.md"))
    p.add_argument("--plot", type=Path, default=Path("docs/validity.png"))
    p.add_argument("--num-bootstrap", type=int, default=200, help="item resamples; 0 skips")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    entries = load_entries(args.leaderboard)
    methods, skipped = collect_methods(entries)
    text = render(
        entries,
        methods,
        skipped,
        board=args.leaderboard,
        plot_link=os.path.relpath(args.plot, args.out.parent),
        num_bootstrap=args.num_bootstrap,
    )
    write_plot(_by_scale(methods), args.plot)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
