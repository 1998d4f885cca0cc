"""The long-range results as a markdown table and a learning-curve plot (`lstmkit.long_range`'s runs).

Example:
    >>> from lstmkit import long_range_report
    >>> text = long_range_report.to_markdown([], "no runs")
"""
import statistics

from .long_range import MODELS, PAPER

PAPER_WRONG = {("adding", 100): 1, ("adding", 500): 0, ("adding", 1000): 1, ("temporal_order", 100): 1}
PAPER_TRIALS = {"adding": 10, "temporal_order": 20}  # Table 7: means of 10 trials; Table 9 (6a): of 20

INTRO = ("success: runs that met the paper's criterion (the most recent 2000 training sequences all correct) "
         "within the budget, out of the runs that spent it (a run cut by the wall-clock limit is counted "
         "apart, as '+k cut'); median: sequences seen until success, over the successful runs; test: "
         "mean over runs of the fraction of 1024 fresh sequences (the same for every model) processed "
         "correctly at the end of training (the paper's per-sequence criterion). The last row of each table "
         "is the paper's own LSTM: number of trials, MEAN sequences until success (online learning, its "
         "1997 architecture with 4 memory cells, no budget), and its test fraction (wrong out of 2560).\n")


def _cell(sub):
    """'k/n · median · test' for the runs of one model at one (task, T)."""
    if not sub:
        return "not run"
    full = [r for r in sub if not r.cut]
    ok = sorted(r.solved_at for r in full if r.solved_at is not None)
    median = f"{statistics.median(ok):,.0f}" if ok else "—"
    test = sum(r.test_accuracy for r in sub) / len(sub)
    cut = f" (+{len(sub) - len(full)} cut)" if len(full) < len(sub) else ""
    return f"{len(ok)}/{len(full)}{cut} · {median} · {test:.3f}"


def _paper_cell(task, T):
    if (task, T) not in PAPER:
        return "—"
    wrong = PAPER_WRONG[(task, T)]
    return f"{PAPER_TRIALS[task]} trials · mean {PAPER[(task, T)]:,} · {1 - wrong / 2560:.4f}"


def to_markdown(runs, meta, plot_name=None):
    """The results table per task: success rate by T, median sequences until success, test accuracy."""
    lines = ["# Long time lags: the experiments of Hochreiter & Schmidhuber (1997)\n", INTRO]
    for task in dict.fromkeys(r.task for r in runs):
        Ts = sorted({r.T for r in runs if r.task == task})
        budgets = {T: sorted({r.budget for r in runs if (r.task, r.T) == (task, T)}) for T in Ts}
        lines.append(f"\n## {task.replace('_', ' ')}\n")
        head = [f"T={T} (budget {'/'.join(f'{b:,}' for b in budgets[T])}): success · median · test" for T in Ts]
        lines += ["| model | " + " | ".join(head) + " |", "|---|" + "---:|" * len(Ts)]
        for model in [m for m in MODELS if any((r.task, r.model) == (task, m) for r in runs)]:
            cells = [_cell([r for r in runs if (r.task, r.T, r.model) == (task, T, model)]) for T in Ts]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("| *paper's LSTM (1997)* | " + " | ".join(_paper_cell(task, T) for T in Ts) + " |")
    if plot_name:
        lines.append(f"\n![learning curves]({plot_name})\n")
    lines.append("\n## How they were run\n\n" + meta + "\n")
    return "\n".join(lines)


def _smooth(ys, k=5):
    return [sum(ys[max(0, j - k + 1):j + 1]) / len(ys[max(0, j - k + 1):j + 1]) for j in range(len(ys))]


def plot(runs, path):
    """Learning curves (fraction correct per training batch, smoothed), one panel per task and T, one
    colour per model, one line per seed; a dashed line at the paper's mean sequences until success."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .viz.figures import save_figure
    panels = sorted(dict.fromkeys((r.task, r.T) for r in runs), key=lambda p: (p[0] != "adding", p[1]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels) + 2.2, 3.2), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (task, T) in zip(axes[0], panels):
        for model in MODELS:
            sub = [r for r in runs if (r.task, r.T, r.model) == (task, T, model) and r.curve]
            for i, r in enumerate(sub):
                xs, ys = zip(*r.curve)
                ax.plot(xs, _smooth(ys), lw=0.9, alpha=0.8, color=f"C{list(MODELS).index(model)}",
                        label=model if i == 0 else None)
        if (task, T) in PAPER:
            ax.axvline(PAPER[(task, T)], color="k", ls="--", lw=0.8, label="paper's LSTM: mean until success")
        ax.set_title(f"{task.replace('_', ' ')}, T={T}", fontsize=9)
        ax.set_xlabel("training sequences", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("fraction correct (batch)", fontsize=8)
    handles = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="outside right center")
    save_figure(fig, path)
    plt.close(fig)


def write_report(out):
    """Merge every long_range*.jsonl in `out` into long_range.md and long_range.png; returns the markdown."""
    from .long_range import load_runs
    runs = load_runs(sorted(out.glob("long_range*.jsonl")))
    meta = "\n".join(f"- {m}" for m in dict.fromkeys(r.meta for r in runs if r.meta))  # one per invocation
    if runs:
        plot(runs, out / "long_range.png")
    text = to_markdown(runs, meta, "long_range.png" if runs else None)
    (out / "long_range.md").write_text(text)
    return text
