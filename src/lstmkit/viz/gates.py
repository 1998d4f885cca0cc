"""Heatmaps of gate activations over time."""
import numpy as np


def plot_gates(trace: dict, path, sample: int = 0, units: int = 32, title: str = "LSTM gates") -> None:
    """Draw i, f, o, g, c and h of one sequence as unit-by-time heatmaps and save the figure.

    Args:
        trace: one entry of `lstmkit.trace_gates(...)`: name -> (T, B, H) tensor.
        path: output image file (PNG); written to a temporary name, then renamed.
        sample: which sequence of the batch; units: at most this many units are drawn.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .figures import save_figure

    names = [("i", "input gate i", "viridis", (0, 1)), ("f", "forget gate f", "viridis", (0, 1)),
             ("o", "output gate o", "viridis", (0, 1)), ("g", "candidate g", "coolwarm", (-1, 1)),
             ("c", "cell state c", "coolwarm", None), ("h", "hidden state h", "coolwarm", None)]
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2 * len(names)), sharex=True)
    for ax, (key, label, cmap, lim) in zip(axes, names):
        a = trace[key][:, sample, :units].cpu().numpy().T  # (units, T)
        if lim is None:
            m = float(np.abs(a).max()) or 1.0
            lim = (-m, m)
        im = ax.imshow(a, aspect="auto", cmap=cmap, vmin=lim[0], vmax=lim[1], interpolation="nearest")
        ax.set_ylabel(label, fontsize=8)
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1].set_xlabel("time step")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
