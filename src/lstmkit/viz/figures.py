"""Saving figures: written to a temporary file in the same directory, then renamed into place."""
import os
from pathlib import Path


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically and close it.

    Args:
        fig: the figure; path: the image file (its suffix picks the format); dpi: resolution.

    Returns:
        The path written.
    """
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}{path.suffix}")  # same directory: atomic rename
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
