"""Attention heatmaps for sequence-to-sequence models."""
from pathlib import Path

from .figures import save_figure


def plot_attention(weights, source_tokens, target_tokens, path, title=None) -> Path:
    """Draw attention weights as a heatmap (target steps down, source tokens across) and save it.

    Args:
        weights: (T, S) array-like, row t = where target step t looked.
        source_tokens: S labels; target_tokens: T labels.
        path: image file to write (format from the suffix, e.g. .png); written atomically.
        title: optional title.

    Returns:
        The path written.

    Example:
        >>> plot_attention([[0.9, 0.1], [0.2, 0.8]], ["a", "b"], ["x", "y"], "attn.png")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    w = np.asarray(weights, dtype=float)
    if w.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(f"weights: expected shape ({len(target_tokens)}, {len(source_tokens)}) "
                         f"for the given tokens, got {w.shape}")
    fig, ax = plt.subplots(figsize=(max(4.0, 1.5 + 0.45 * len(source_tokens)),
                                    max(3.0, 1.2 + 0.4 * len(target_tokens))))
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(target_tokens)), target_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    return save_figure(fig, path)
