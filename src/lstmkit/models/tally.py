"""Per-batch losses and metric values, kept on the device and read only when shown or at the end."""
import torch

from ..errors import LstmkitError


class NonFiniteLoss(LstmkitError):
    """The training loss became NaN or infinite; `history` holds the epochs completed before."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Tally:
    """Per-batch values (the loss first) kept as device tensors; read (one sync) only on demand.

    Args:
        names: the logged names, 'loss' first (`Compiled.names`).
        results: per name, None or a function of the epoch's mean (the square root, for rmse).
    """

    def __init__(self, names, results):
        self.names, self.results, self.values, self.sizes = names, results, [], []

    def add(self, values, size):
        self.values.append(torch.stack(values) if len(values) > 1 else values[0][None])
        self.sizes.append(size)

    def logs(self, epoch) -> dict:
        """Sample-weighted means so far; raises NonFiniteLoss naming the first bad batch."""
        table = torch.stack(self.values)  # (batches, values)
        finite = torch.isfinite(table[:, 0])
        if epoch is not None and not bool(finite.all()):
            batch = int((~finite).nonzero()[0])
            raise NonFiniteLoss(f"fit: the loss became {float(table[batch, 0])} at epoch {epoch + 1}, "
                                f"batch {batch + 1}; lower the learning rate or check the data", None)
        w = torch.tensor(self.sizes, dtype=table.dtype, device=table.device)
        means = ((table * w[:, None]).sum(0) / w.sum()).tolist()
        return {n: (r(v) if r is not None else v) for n, r, v in zip(self.names, self.results, means)}
