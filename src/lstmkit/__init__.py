"""lstmkit: Long Short-Term Memory networks — readable, exact and fast."""
from ._version import __version__

from . import cells, kernels, layers, models, nn
from .errors import LstmkitError
from .explain import explain
from .quantization import quantize
from .seeding import set_seed
from .trace import trace_gates

__all__ = ["cells", "kernels", "layers", "models", "nn", "explain", "quantize", "set_seed", "trace_gates",
           "LstmkitError", "__version__"]
