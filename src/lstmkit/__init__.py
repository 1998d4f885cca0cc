"""lstmkit: Long Short-Term Memory networks — readable, exact and fast."""
from ._version import __version__

from . import cells, kernels, layers, models, nn
from . import (activations, backend, callbacks, constraints, initializers, losses, metrics, optimizers,
               regularizers, utils)
from .errors import LstmkitError
from .explain import explain
from .quantization import quantize
from .layers import Input
from .models import Model, Sequential
from .seeding import set_seed
from . import precision as mixed_precision  # Keras: mixed_precision.set_global_policy("mixed_bfloat16")
from .trace import trace_gates

__all__ = ["cells", "kernels", "layers", "models", "nn", "explain", "quantize", "set_seed", "trace_gates",
           "LstmkitError", "__version__"]
# the Keras 3 namespace: `import lstmkit as keras` runs Keras programs
__all__ += ["Sequential", "Model", "Input", "activations", "backend", "callbacks", "constraints", "initializers",
            "losses", "metrics", "optimizers", "regularizers", "utils"]
