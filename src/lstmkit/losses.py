"""Keras 3's `keras.losses` namespace: every loss class of `lstmkit.models.losses`, Keras' loss
functions (`mean_squared_error(y_true, y_pred)`, ...) and `get`.

As in Keras, losses are called `loss(y_true, y_pred)`; pass them (or your own
`def my_loss(y_true, y_pred)`) to `compile`.
"""
from .models import losses as _impl
from .models.losses import LOSSES, Loss, get

# every Loss class the implementation defines, so new ones appear here without a second list
globals().update({k: v for k, v in vars(_impl).items() if isinstance(v, type) and issubclass(v, Loss)
                  and not k.startswith("_")})
globals().update({f.__name__: f for f in _impl.FUNCTIONS})
__all__ = sorted(k for k, v in globals().items() if isinstance(v, type) and issubclass(v, Loss)) + \
    sorted(f.__name__ for f in _impl.FUNCTIONS) + ["get", "LOSSES"]
