"""Keras 3's `keras.optimizers.schedules` namespace (see `lstmkit.models.schedules` for the formulas)."""
from ..models.schedules import (CosineDecay, ExponentialDecay, InverseTimeDecay, LearningRateSchedule,
                                PiecewiseConstantDecay, PolynomialDecay)

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay",
           "PolynomialDecay", "CosineDecay"]
