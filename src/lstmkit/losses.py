"""Keras 3's `keras.losses` namespace: every loss class of `lstmkit.models.losses`, and `get`.

lstmkit's losses are called as `loss(y_pred, y_true)` by `Model.fit`; pass them to `compile`.
"""
from .models import losses as _impl
from .models.losses import LOSSES, Loss, get

# every Loss class the implementation defines, so new ones appear here without a second list
globals().update({k: v for k, v in vars(_impl).items() if isinstance(v, type) and issubclass(v, Loss)
                  and not k.startswith("_")})
__all__ = sorted(k for k, v in globals().items() if isinstance(v, type) and issubclass(v, Loss)) + ["get", "LOSSES"]
