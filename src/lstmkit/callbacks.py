"""Keras 3's `keras.callbacks` namespace: every callback class of `lstmkit.models.callbacks`."""
from .models import callbacks as _impl
from .models.callbacks import Callback

# every Callback class the implementation defines, so new ones appear here without a second list
globals().update({k: v for k, v in vars(_impl).items() if isinstance(v, type) and issubclass(v, Callback)
                  and not k.startswith("_")})
__all__ = sorted(k for k, v in globals().items() if isinstance(v, type) and issubclass(v, Callback))
