"""The long-time-lag experiments of Hochreiter & Schmidhuber (1997), on today's recurrent layers.

Two of the paper's tasks, with its success criterion, train every model with the same budget and
seeds and report the success rate by minimal lag T and the sequences seen until success:

- adding problem (the paper's Experiment 4): pairs (value in [-1, 1], marker in {-1, 0, 1}); X1 is
  marked among the first 10 pairs, X2 among the first T/2 - 1; the first and last markers are -1.
  Length L in [T, T + T/10]. Target at the end 0.5 + (X1 + X2) / 4; a sequence is processed
  correctly when the absolute error is below 0.04.
- temporal order (Experiment 6a): symbols E, B, a, b, c, d, X, Y one-hot; E first, B last, X or Y at
  t1 in [T/10, T/5] and t2 in [T/2, 3T/5], a-d elsewhere; four classes XX, XY, YX, YY. Correct when
  every one of the four outputs (softmax) is within 0.3 of the one-hot target. The paper's T is 100.

Success, as in the paper: the most recent 2000 training sequences were all processed correctly
(the paper also asks for an average training error below 0.01 / 0.1, implied here by the 0.04 / 0.3
bound on every one of them). Differences from the paper, stated: Adam (lr 1e-2 on the gates'
networks) on mini-batches of 32 rather than online learning; one length L per mini-batch; a larger
hidden layer; the models are Keras-style standard cells, not the 1997 architecture without forget gate.
"""
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from . import nn as lnn

WINDOW = 2000  # the paper's "2000 most recent sequences"
PAPER = {  # sequences until success, Hochreiter & Schmidhuber 1997, Tables 7 and 8 (LSTM, averages)
    ("adding", 100): 74_000, ("adding", 500): 209_000, ("adding", 1000): 853_000,
    ("temporal_order", 100): 31_390,
}


def adding_batch(T, batch, gen):
    """(x (B, L, 2), target (B, 1)) for the adding problem, one length L in [T, T + T/10] per batch."""
    L = int(torch.randint(T, T + T // 10 + 1, (1,), generator=gen))
    values = torch.rand(batch, L, generator=gen) * 2 - 1
    marker = torch.zeros(batch, L)
    marker[:, 0] = marker[:, -1] = -1.0
    rows = torch.arange(batch)
    p1 = torch.randint(0, 10, (batch,), generator=gen)
    # X2: one of the first T/2 - 1 pairs other than X1's (draw among T/2 - 2 and skip p1)
    p2 = torch.randint(0, T // 2 - 2, (batch,), generator=gen)
    p2 = p2 + (p2 >= p1).long()
    marker[rows, p1] = marker[rows, p2] = 1.0
    x1 = torch.where(p1 == 0, torch.zeros(batch), values[rows, p1])  # the paper zeroes X1 at position 0
    target = 0.5 + (x1 + values[rows, p2]) / 4
    return torch.stack([values, marker], -1), target[:, None]


def temporal_order_batch(T, batch, gen):
    """(x (B, L, 8) one-hot of E, B, a, b, c, d, X, Y; class (B,) in 0..3 for XX, XY, YX, YY)."""
    L = int(torch.randint(T, T + T // 10 + 1, (1,), generator=gen))
    sym = torch.randint(2, 6, (batch, L), generator=gen)  # a..d
    sym[:, 0], sym[:, -1] = 0, 1  # E ... B
    rows = torch.arange(batch)
    t1 = torch.randint(T // 10, T // 5 + 1, (batch,), generator=gen)
    t2 = torch.randint(T // 2, 3 * T // 5 + 1, (batch,), generator=gen)
    first, second = torch.randint(0, 2, (batch,), generator=gen), torch.randint(0, 2, (batch,), generator=gen)
    sym[rows, t1], sym[rows, t2] = 6 + first, 6 + second
    return nn.functional.one_hot(sym, 8).float(), first * 2 + second


TASKS = {"adding": (adding_batch, 2, 1), "temporal_order": (temporal_order_batch, 8, 4)}


class _SimpleRNN(nn.Module):
    """Fallback Elman RNN in plain torch ops (used only when torch.nn.RNN is missing)."""

    def __init__(self, I, H):
        super().__init__()
        self.cell = nn.RNNCell(I, H)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.cell.hidden_size)
        for x_t in x.unbind(1):
            h = self.cell(x_t, h)
        return h


class Net(nn.Module):
    """A recurrent layer (batch-first) and a linear read-out of its last state."""

    def __init__(self, kind, inputs, outputs, hidden):
        super().__init__()
        self.kind = kind
        self.rnn = make_rnn(kind, inputs, hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x):
        y = self.rnn(x)
        y = y if isinstance(y, torch.Tensor) and y.dim() == 2 else y[0][:, -1]  # last output (B, H)
        return self.out(y)


MODELS = {
    "SimpleRNN (torch.nn.RNN)": lambda I, H: nn.RNN(I, H, batch_first=True),
    "GRU (torch.nn.GRU)": lambda I, H: nn.GRU(I, H, batch_first=True),
    "LSTM": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras"),
    "LSTM peephole": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras", peephole=True),
    "LSTM CIFG": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras", cifg=True),
    "LSTM layer norm": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras", layer_norm=True),
    "LSTM zoneout (0.1, 0.05)": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras", zoneout=(0.1, 0.05)),
    "minLSTM": lambda I, H: lnn.MinLSTM(I, H, batch_first=True),
}


def make_rnn(kind, I, H):
    return MODELS[kind](I, H)


@dataclass
class Run:
    task: str
    T: int
    model: str
    seed: int
    budget: int  # sequences allowed
    solved_at: int | None = None  # sequences seen when the last WINDOW were all correct
    seen: int = 0
    seconds: float = 0.0
    curve: list = field(default_factory=list)  # (sequences seen, fraction correct of the last batch)
    test_accuracy: float = 0.0
    net: nn.Module | None = field(default=None, repr=False)  # the trained network, until evaluated


def train_one(task, T, model, seed, budget, hidden=32, batch=32, lr=1e-2, curve_every=20, time_limit=None):
    """Train one model on one task until the paper's criterion holds or the budget is spent."""
    make_batch, I, O = TASKS[task]
    torch.manual_seed(seed)
    net = Net(model, I, O, hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(10_000 + seed)  # the same data for every model
    run, streak, t0 = Run(task, T, model, seed, budget), 0, time.perf_counter()
    step = 0
    while run.seen < budget and (time_limit is None or time.perf_counter() - t0 < time_limit):
        x, target = make_batch(T, batch, gen)
        out = net(x)
        if task == "adding":
            loss = nn.functional.mse_loss(out, target)
            correct = (out.detach() - target).abs()[:, 0] < 0.04
        else:
            loss = nn.functional.cross_entropy(out, target)
            p = out.detach().softmax(-1)
            correct = (p - nn.functional.one_hot(target, O)).abs().max(-1).values < 0.3
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        run.seen += batch
        streak = streak + batch if bool(correct.all()) else batch - 1 - int((~correct).nonzero()[-1])
        if step % curve_every == 0:
            run.curve.append((run.seen, float(correct.float().mean())))
        step += 1
        if streak >= WINDOW:
            run.solved_at = run.seen
            break
    run.seconds = time.perf_counter() - t0
    run.net = net
    return run


def evaluate(net, task, T, gen, n=1024):
    """Fraction of n fresh sequences processed correctly under the paper's per-sequence criterion."""
    make_batch, _, O = TASKS[task]
    x, target = make_batch(T, n, gen)
    with torch.no_grad():
        out = net.eval()(x)
    net.train()
    if task == "adding":
        return float(((out - target).abs()[:, 0] < 0.04).float().mean())
    return float(((out.softmax(-1) - nn.functional.one_hot(target, O)).abs().max(-1).values < 0.3).float().mean())


def run(grid, seeds=(0,), batch=32, lr=1e-3, hidden=32, log=print, on_run=None, test_sequences=1024):
    """Train the models of every (task, T, models, updates) in `grid` with each seed; returns the Runs.

    Within one (task, T) the budget is the same for every model: `updates` mini-batches of `batch`
    sequences. `on_run(runs)` is called after each run (e.g. to save partial results).
    """
    runs = []
    for task, T, models, updates in grid:
        for seed in seeds:
            for model in models:
                r = train_one(task, T, model, seed, updates * batch, hidden, batch, lr)
                r.test_accuracy = evaluate(r.net, task, T, torch.Generator().manual_seed(99_999 + seed),
                                           test_sequences)
                del r.net
                runs.append(r)
                log(f"{task:14s} T={T:4d} seed={seed} {model:26s} solved_at={r.solved_at} "
                    f"test={r.test_accuracy:.2f} {r.seconds:6.1f}s")
                if on_run is not None:
                    on_run(runs)
    return runs


def to_markdown(runs, meta, plot_name=None):
    """The results table: success rate by T (paper criterion), sequences until success, test accuracy."""
    lines = ["# Long time lags: the experiments of Hochreiter & Schmidhuber (1997)\n", meta + "\n",
             "success: runs that met the paper's criterion (the most recent 2000 training sequences all "
             "correct) within the budget; sequences: mean sequences seen until then, over the successful "
             "runs; test: fraction of 1024 fresh sequences (the same for every model) processed correctly at the end of training "
             "(the paper's per-sequence criterion). Below each table, the paper's own figures: its LSTM's mean "
             "number of training sequences until success (online learning, its 1997 architecture, no budget). "
             "'not run': left out to fit the time on a shared CPU (see the README).\n"]
    for task in dict.fromkeys(r.task for r in runs):
        Ts = sorted({r.T for r in runs if r.task == task})
        lines.append(f"\n## {task.replace('_', ' ')}\n")
        lines.append("| model | " + " | ".join(f"T={T}: success / sequences / test" for T in Ts) + " |")
        lines.append("|---|" + "---:|" * len(Ts))
        for model in dict.fromkeys(r.model for r in runs):
            cells = []
            for T in Ts:
                sub = [r for r in runs if (r.task, r.T, r.model) == (task, T, model)]
                if not sub:
                    cells.append("not run")
                    continue
                ok = [r.solved_at for r in sub if r.solved_at is not None]
                seq = f"{sum(ok) / len(ok):,.0f}" if ok else "—"
                test = sum(r.test_accuracy for r in sub) / len(sub)
                cells.append(f"{len(ok)}/{len(sub)} / {seq} / {test:.2f}")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        paper = [f"T={T}: {n:,}" for (t, T), n in PAPER.items() if t == task]
        lines.append("\nThe paper's LSTM, mean sequences until success: " + ", ".join(paper) + ".\n")
    if plot_name:
        lines.append(f"\n![learning curves]({plot_name})\n")
    return "\n".join(lines)


def plot(runs, path):
    """Learning curves (fraction correct per training batch, smoothed) per task and T, one line per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .viz.figures import save_figure
    panels = list(dict.fromkeys((r.task, r.T) for r in runs))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 2, 3.2), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, (task, T) in zip(axes[0], panels):
        for model in dict.fromkeys(r.model for r in runs):
            sub = [r for r in runs if (r.task, r.T, r.model) == (task, T, model)]
            if sub:
                xs, ys = zip(*sub[0].curve)
                k = 5  # moving average over 5 curve points
                ys = [sum(ys[max(0, j - k + 1):j + 1]) / len(ys[max(0, j - k + 1):j + 1]) for j in range(len(ys))]
                ax.plot(xs, ys, label=model, lw=1, color=f"C{list(MODELS).index(model)}")  # one colour per model
        ax.set_title(f"{task.replace('_', ' ')}, T={T}", fontsize=9)
        ax.set_xlabel("training sequences", fontsize=8)
    axes[0][0].set_ylabel("fraction correct (batch)", fontsize=8)
    fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, loc="outside right center")
    save_figure(fig, path)


FAST = ("SimpleRNN (torch.nn.RNN)", "GRU (torch.nn.GRU)", "LSTM", "minLSTM")


def make_grid(adding=(20, 100, 500), temporal_order=(20,), updates=400, fast_from=0):
    """[(task, T, models, updates)]: every model, except that from T >= fast_from (when > 0) on only the
    cells torch runs natively (simple RNN, GRU, LSTM) and minLSTM train, to fit a shared CPU's time."""
    out = []
    for task, Ts in (("temporal_order", temporal_order), ("adding", adding)):
        for T in Ts:
            out.append((task, T, FAST if fast_from and T >= fast_from else tuple(MODELS), updates))
    return out


def describe(updates, threads):
    """The budget and machine line written above the results."""
    import os
    import platform
    return (f"torch {torch.__version__}, {threads} thread(s), {platform.machine()}, float32; budget {updates} "
            f"mini-batches of 32 sequences per run ({updates * 32:,} sequences), Adam lr 1e-3, gradient norm "
            f"clipped at 1, hidden 32; load average {os.getloadavg()[0]:.1f} at the start, on a CPU shared "
            "with other jobs")


def write_part(runs, meta, path):
    """Save finished runs as JSON (no pickles), so a time limit keeps what finished."""
    import json
    from dataclasses import asdict
    rows = [{k: v for k, v in asdict(r).items() if k != "net"} for r in runs]
    path.write_text(json.dumps({"meta": meta, "runs": rows}))


def write_report(out):
    """Merge every long_range.*.json in `out` into long_range.md and long_range.png; returns the markdown."""
    import json
    data = [json.loads(p.read_text()) for p in sorted(out.glob("long_range.*.json"))]
    runs = [Run(**r) for d in data for r in d["runs"]]
    meta = "; ".join(dict.fromkeys(d["meta"] for d in data))
    plot(runs, out / "long_range.png")
    text = to_markdown(runs, meta, "long_range.png")
    (out / "long_range.md").write_text(text)
    return text
