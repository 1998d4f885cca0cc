"""The LSTM math, readable: one file per cell."""
from .lstm import LayerWeights, init_state, input_projection, step

__all__ = ["LayerWeights", "init_state", "input_projection", "step"]
