"""lstmkit: Long Short-Term Memory networks — readable, exact and fast."""
__version__ = "0.1.0"

from . import cells, kernels, nn
from .errors import LstmkitError
from .explain import explain
from .seeding import set_seed

__all__ = ["cells", "kernels", "nn", "explain", "set_seed", "LstmkitError", "__version__"]
