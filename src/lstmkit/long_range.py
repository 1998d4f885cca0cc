"""The long-time-lag experiments of Hochreiter & Schmidhuber (1997), on today's recurrent layers.

Two of the paper's tasks, with its success criterion, train every model with the same budget and
seeds and report the success rate by minimal lag T and the sequences seen until success:

- adding problem (the paper's Experiment 4): pairs (value in [-1, 1], marker in {-1, 0, 1}); X1 is
  marked among the first 10 pairs, X2 among the first T/2 - 1; the first and last markers are -1
  (when the first pair is the marked one, its value X1 is set to zero).
  Length L in [T, T + T/10]. Target at the end 0.5 + (X1 + X2) / 4; a sequence is processed
  correctly when the absolute error is below 0.04.
- temporal order (Experiment 6a): symbols E, B, a, b, c, d, X, Y one-hot; E first, B last, X or Y at
  t1 in [T/10, T/5] and t2 in [T/2, 3T/5], a-d elsewhere; four classes XX, XY, YX, YY. Correct when
  every one of the four outputs (softmax) is within 0.3 of the one-hot target. The paper's T is 100.

Success, as in the paper: the most recent 2000 training sequences were all processed correctly
(the paper also asks for an average training error below 0.01 / 0.1, implied here by the 0.04 / 0.3
bound on every one of them); a run stops there. Differences from the paper, stated: Adam (lr 1e-3,
gradient norm clipped at 1) on mini-batches of 32 rather than online gradient descent; one length L
per mini-batch; a hidden layer of 32 units rather than the paper's 4 memory cells (93 / 156 weights);
the models are today's standard cells, not the 1997 architecture without forget gate. That
architecture's cell keeps its value by construction; a standard LSTM starts with forget bias 1
(f ~ 0.73, a memory of a few steps), so "LSTM chrono init" (`chrono_init`, Tallec & Ollivier 2018)
sets the forget biases to spread up to the lag T, as the paper set its input-gate biases (-3, -6).

Every finished run is appended as one JSON line to a results file (`append_run`), so a grid can be
stopped and resumed (`done_keys`) and a partial grid still makes a valid table (`write_report`).
"""
import json
import math
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from . import nn as lnn

WINDOW = 2000  # the paper's "2000 most recent sequences"
PAPER = {  # sequences until success, Hochreiter & Schmidhuber 1997: Table 7 (adding, means of 10 trials)
    # and Table 9 (temporal order, task 6a, mean of 20 trials); its LSTM, online, no budget
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
    # "X1 is set to zero in the rare case where the first pair of the sequence got marked": the input
    # value itself, so the target stays the sum of the marked inputs the network sees
    values[p1 == 0, 0] = 0.0
    target = 0.5 + (values[rows, p1] + values[rows, p2]) / 4
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


def chrono_init(lstm, T_max):
    """Chrono initialisation (Tallec & Ollivier 2018) of a one-layer (i, f, g, o) LSTM, in place:
    b_f = log(u), u ~ U(1, T_max - 1), and b_i = -b_f, so forgetting time constants spread up to the
    lag; the default b_f = 1 forgets a stored value within a few steps at the start of training.

    Args:
        lstm: an `lstmkit.nn.LSTM` (or torch.nn.LSTM) with bias_ih_l0 of shape (4H,).
        T_max: the longest time constant wanted (the task's minimal lag scale).
    Example:
        >>> chrono_init(lnn.LSTM(2, 8), 100)
    """
    H = lstm.hidden_size
    with torch.no_grad():
        b_f = torch.log(torch.empty(H).uniform_(1, T_max - 1))
        lstm.bias_ih_l0[H:2 * H] = b_f
        lstm.bias_ih_l0[:H] = -b_f
        lstm.bias_hh_l0.zero_()


class Net(nn.Module):
    """A recurrent layer (batch-first) and a linear read-out of its last state."""

    def __init__(self, kind, inputs, outputs, hidden, T=None):
        super().__init__()
        self.kind = kind
        self.rnn = make_rnn(kind, inputs, hidden)
        if "chrono init" in kind:
            chrono_init(self.rnn, T)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x):
        y = self.rnn(x)
        y = y if isinstance(y, torch.Tensor) and y.dim() == 2 else y[0][:, -1]  # last output (B, H)
        return self.out(y)


MODELS = {
    "SimpleRNN (torch.nn.RNN)": lambda I, H: nn.RNN(I, H, batch_first=True),
    "GRU (torch.nn.GRU)": lambda I, H: nn.GRU(I, H, batch_first=True),
    "LSTM": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras"),
    "LSTM chrono init": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras"),  # then chrono_init
    # the same network, its learning rate decayed over the budget (learning_rate below)
    "LSTM chrono init + cosine lr": lambda I, H: lnn.LSTM(I, H, batch_first=True, init="keras"),
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
    batch: int = 32
    hidden: int = 32
    solved_at: int | None = None  # sequences seen when the last WINDOW were all correct
    seen: int = 0
    seconds: float = 0.0
    cut: bool = False  # stopped by the wall-clock limit before its budget was spent (not a failure)
    curve: list = field(default_factory=list)  # (sequences seen, fraction correct of the last batch)
    test_accuracy: float = 0.0
    meta: str = ""  # the machine and settings line of the invocation that ran it
    net: nn.Module | None = field(default=None, repr=False)  # the trained network, until evaluated

    def key(self):
        """What makes two runs the same experiment (for resuming a grid)."""
        return (self.task, self.T, self.model, self.seed, self.budget, self.batch, self.hidden)


def _correct(task, out, target, O):
    """Per-sequence correctness under the paper's criterion: |error| < 0.04 (adding), every softmax
    output within 0.3 of the one-hot target (temporal order)."""
    if task == "adding":
        return (out - target).abs()[:, 0] < 0.04
    return (out.softmax(-1) - nn.functional.one_hot(target, O)).abs().max(-1).values < 0.3


def learning_rate(step, steps, lr, cosine):
    """The step's learning rate: `lr` throughout, or with `cosine` half a cosine from lr down to lr/100
    over `steps` (the run's budget in mini-batches).

    >>> learning_rate(0, 100, 1e-3, True), learning_rate(100, 100, 1e-3, True), learning_rate(7, 100, 1e-3, False)
    (0.001, 1e-05, 0.001)
    """
    if not cosine:
        return lr
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step / steps, 1.0))))


def train_one(task, T, model, seed, budget, hidden=32, batch=32, lr=1e-3, curve_every=20, deadline=None):
    """Train one model on one task until the paper's criterion holds or the budget is spent.

    `deadline` (a time.monotonic() value) cuts the run short; it is then marked `cut`.
    """
    make_batch, I, O = TASKS[task]
    torch.manual_seed(seed)
    net = Net(model, I, O, hidden, T)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(10_000 + seed)  # the same data for every model
    run, streak, t0 = Run(task, T, model, seed, budget, batch, hidden), 0, time.perf_counter()
    step, steps, cosine = 0, math.ceil(budget / batch), model.endswith("cosine lr")
    while run.seen < budget:
        if deadline is not None and time.monotonic() > deadline:
            run.cut = True
            break
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps, lr, cosine)
        x, target = make_batch(T, batch, gen)
        out = net(x)
        loss = nn.functional.mse_loss(out, target) if task == "adding" else nn.functional.cross_entropy(out, target)
        correct = _correct(task, out.detach(), target, O)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        run.seen += batch
        # the streak of correct sequences, in order, ending with the newest one
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
    return float(_correct(task, out, target, O).float().mean())


def run(grid, seeds=(0,), batch=32, lr=1e-3, hidden=32, log=print, on_run=None, test_sequences=1024,
        done=(), deadline=None, meta=""):
    """Train the models of every (task, T, models, updates) in `grid` with each seed; returns the Runs.

    Within one (task, T) the budget is the same for every model: `updates` mini-batches of `batch`
    sequences. `on_run(run)` is called after each run (e.g. `append_run`); runs whose `Run.key()` is in
    `done` are skipped (resuming); none starts after `deadline` (time.monotonic()), the one running
    then is cut.
    """
    runs = []
    for task, T, models, updates in grid:
        for seed in seeds:
            for model in models:
                if (task, T, model, seed, updates * batch, batch, hidden) in done:
                    continue
                if deadline is not None and time.monotonic() > deadline:
                    return runs
                r = train_one(task, T, model, seed, updates * batch, hidden, batch, lr, deadline=deadline)
                r.test_accuracy = evaluate(r.net, task, T, torch.Generator().manual_seed(99_999 + seed),
                                           test_sequences)
                r.meta, r.net = meta, None
                runs.append(r)
                log(f"{task:14s} T={T:4d} seed={seed} {model:26s} solved_at={r.solved_at} seen={r.seen} "
                    f"test={r.test_accuracy:.3f} {r.seconds:6.1f}s{' CUT' if r.cut else ''}")
                if on_run is not None:
                    on_run(r)
    return runs


def append_run(run, path):
    """Append one finished run to a JSON-lines file (no pickles); a stopped grid keeps every run so far."""
    row = {k: v for k, v in asdict(run).items() if k != "net"}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def load_runs(paths):
    """Every run in the given JSON-lines files, in order (a torn last line from a killed job is skipped)."""
    runs = []
    for p in paths:
        for line in open(p).read().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            row["curve"] = [tuple(c) for c in row["curve"]]
            runs.append(Run(**row))
    return runs


def done_keys(runs):
    """Keys of the runs that need not run again: finished ones (a cut run is redone)."""
    return {r.key() for r in runs if not r.cut}


FAST = ("SimpleRNN (torch.nn.RNN)", "GRU (torch.nn.GRU)", "LSTM", "LSTM chrono init", "minLSTM")


def make_grid(adding=(20, 100, 500), temporal_order=(20,), updates=400, fast_from=0, models=None):
    """[(task, T, models, updates)]: `models` (default every model), except that from T >= fast_from
    (when > 0) on only the fast cells (simple RNN, GRU, LSTM, minLSTM) train, to fit a shared CPU."""
    chosen = tuple(models or MODELS)
    out = []
    for task, Ts in (("temporal_order", temporal_order), ("adding", adding)):
        for T in Ts:
            out.append((task, T, tuple(m for m in chosen if m in FAST) if fast_from and T >= fast_from
                        else chosen, updates))
    return out


def describe(batch, threads, command=""):
    """The settings and machine line written above the results."""
    import os
    import platform
    return (f"torch {torch.__version__}, {threads} thread(s) per process, {platform.machine()}, float32; "
            f"Adam lr 1e-3, mini-batches of {batch}, gradient norm clipped at 1, hidden 32; load average "
            f"{os.getloadavg()[0]:.1f} at the start, on a CPU shared with other jobs"
            + (f"; command: `{command}`" if command else ""))


def write_report(out):
    """Merge every long_range*.jsonl in `out` into long_range.md and long_range.png; returns the markdown."""
    from .long_range_report import write_report as write
    return write(out)
