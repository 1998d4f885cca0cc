"""Keras 3's `keras.metrics` namespace: every metric class of `lstmkit.models.metrics`, and `get`."""
from .models import metrics as _impl
from .models.metrics import METRICS, Metric, get

# every Metric class the implementation defines, so new ones appear here without a second list
globals().update({k: v for k, v in vars(_impl).items() if isinstance(v, type) and issubclass(v, Metric)
                  and not k.startswith("_")})
__all__ = sorted(k for k, v in globals().items() if isinstance(v, type) and issubclass(v, Metric)) + ["get", "METRICS"]
