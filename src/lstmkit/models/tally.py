"""Per-batch losses and metric values, kept on the device and read only when shown or at the end."""
import torch

from ..errors import LstmkitError
from . import metrics as metrics_


class NonFiniteLoss(LstmkitError):
    """The training loss became NaN or infinite; `history` holds the epochs completed before."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Tally:
    """Per-batch losses and metric values kept as device tensors; read (one sync) only on demand."""

    def __init__(self, metrics):
        self.metrics, self.losses, self.values, self.sizes = metrics, [], [], []

    def add(self, loss, pred, y):
        self.losses.append(loss.detach())
        self.sizes.append(len(y))
        if self.metrics:
            self.values.append(metrics_.evaluate(self.metrics, pred, y))

    def logs(self, epoch) -> dict:
        """Sample-weighted means so far; raises NonFiniteLoss naming the first bad batch."""
        losses = torch.stack(self.losses)
        finite = torch.isfinite(losses)
        if epoch is not None and not bool(finite.all()):
            batch = int((~finite).nonzero()[0])
            raise NonFiniteLoss(f"fit: the loss became {float(losses[batch])} at epoch {epoch + 1}, "
                                f"batch {batch + 1}; lower the learning rate or check the data", None)
        w = torch.tensor(self.sizes, dtype=losses.dtype, device=losses.device)
        logs = {"loss": float((losses * w).sum() / w.sum())}
        if self.metrics:
            table = torch.stack([torch.stack(v) for v in self.values])  # (batches, metrics)
            means = ((table * w[:, None]).sum(0) / w.sum()).tolist()
            logs.update({m.name: m.result(v) for m, v in zip(self.metrics, means)})
        return logs
