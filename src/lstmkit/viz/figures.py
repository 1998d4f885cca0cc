"""Saving figures atomically, through `lstmkit.saving.atomic_write`."""
import io
from pathlib import Path

from ..saving import atomic_write


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically and close it.

    Args:
        fig: the figure; path: the image file (its suffix picks the format); dpi: resolution.

    Returns:
        The path written.
    """
    import matplotlib.pyplot as plt
    path = Path(path)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    atomic_write(path, buffer.getvalue())
    return path
