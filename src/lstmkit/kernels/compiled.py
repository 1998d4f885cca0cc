"""lstmkit's compiled kernel: `fused`'s math with the whole time loop in one native call per layer.

Where the fused kernel drives ~10 torch calls per step from Python, `csrc/lstm.cpp` runs the loop in
C++: per step one BLAS GEMM (h_{t-1} W_hh^T into the step's slice of the gate buffer) and one loop of
gate math that the compiler vectorises; backward the same, with dx and the weight gradients one GEMM
each over all steps, as in `fused`. That removes the per-step overhead that dominates small shapes
(small H, or batch 1). Multiple layers, bidirectional, projections, masks, recurrent dropout,
float32 and float64 run; the stack (layers, directions, dropout between layers) is `stack.run_stack`.
In float32 on an AVX-512 CPU, up to a per-step work of 2^22 multiply-adds, `csrc/lstm_tile.cpp`
replaces each step's BLAS call and gate loop by one register-blocked pass over weights packed once
per call, with the gate math applied to the GEMM's tile in registers. With more than one torch thread
the batch is cut into slices (at least 8 rows each) that run the whole time loop on their own thread.

The C++ source is built once per source, torch version and CPU into a cache directory
(`$LSTMKIT_CACHE` or `~/.cache/lstmkit`) with the system's C++ compiler (`$CXX`, default g++):
`make install` runs `compiled.main(["--build"])`, and otherwise the first use builds it.
A machine where it cannot build gets the other kernels; `lstmkit.explain` shows why.

Example:
    >>> import torch, lstmkit
    >>> lstm = lstmkit.nn.LSTM(1, 50, engine="compiled")
    >>> tuple(lstm(torch.randn(50, 32, 1))[0].shape)
    (50, 32, 50)
"""
import argparse
import hashlib
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from . import compiled_rnn
from .stack import first_order, lengths_to_mask, run_stack

name = "compiled"
# Every C++ source of the library: csrc/lstm.cpp registers the `lstmkit_compiled` op namespace and
# each further cell's file adds its ops to it with TORCH_LIBRARY_FRAGMENT; all build into one library.
SOURCES = tuple(sorted((Path(__file__).parent / "csrc").glob("*.cpp")))
HEADERS = tuple(sorted((Path(__file__).parent / "csrc").glob("*.h")))  # in the cache key, not compiled
_DTYPES = (torch.float32, torch.float64)
_FLAGS = ("-O3", "-march=native", "-fopenmp", "-std=c++17", "-shared", "-fPIC", "-w")
_state = {}  # "ops" once loaded, or "error": why it could not be built or loaded


def unsupported(config, device):
    """Why the compiled kernel cannot run `config` on `device`, or None."""
    if torch.device(device).type != "cpu":
        return "runs on the CPU only"
    if config.cell != "lstm" and config.cell not in compiled_rnn.CELLS:
        return f"runs the LSTM, the GRU and the simple RNN only, not the {config.cell} cell"
    if config.capture:
        return ("has no fake-tensor registration, so torch.compile, torch.export and ONNX run lstmkit's "
                "registered ops instead")
    if config.dtype not in _DTYPES:
        return f"dtype {config.dtype} is not supported (float32 and float64 are)"
    return (compiled_rnn.unsupported(config) if config.cell != "lstm" else None) or load_error()


def run(x, hx, weights, config, training, mask=None, lengths=None):
    """See `lstmkit.kernels` for the contract."""
    if config.cell != "lstm":  # the GRU and the simple RNN (csrc/single_state.cpp)
        return compiled_rnn.run(_ops(), x, hx, weights, config, training, mask, lengths)
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)
    return run_stack(layer, x, hx, weights, config, training, mask)


def layer(x, h0, c0, w, reverse, mask, hmask):
    """One layer and direction: (T, B, I) -> (T, B, P), h_n (B, P), c_n (B, H)."""
    args = (x, h0, c0, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, w.weight_hr, reverse, mask, hmask)
    if torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
        return _CompiledLSTM.apply(*args)
    return tuple(_ops().lstm_forward(*args)[:3])  # inference: no autograd node (its cost shows at S1)


class _CompiledLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, mask, hmask):
        Y, h, c, G, C, TC, R, S, W_ih, W_hh = _ops().lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr,
                                                                  reverse, mask, hmask)
        ctx.reverse, ctx.has_bias = reverse, b_ih is not None
        ctx.save_for_backward(x, h0, c0, w_hr, G, C, TC, R, S, W_ih, W_hh, mask, hmask)
        return Y, h, c

    @staticmethod
    @first_order
    def backward(ctx, dY, dh_n, dc_n):
        x, h0, c0, w_hr, G, C, TC, R, S, W_ih, W_hh, mask, hmask = ctx.saved_tensors
        dY = torch.zeros_like(S) if dY is None else dY
        dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
        dc_n = torch.zeros_like(c0) if dc_n is None else dc_n
        dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr = _ops().lstm_backward(
            dY, dh_n, dc_n, x, h0, c0, w_hr, G, C, TC, R if w_hr is not None else None, S, W_ih, W_hh,
            ctx.reverse, mask, hmask, ctx.has_bias)
        db = db if ctx.has_bias else None
        return dx, dh0, dc0, dw_ih, dw_hh, db, db, dw_hr if w_hr is not None else None, None, None, None


def _ops():
    if "ops" not in _state:
        raise RuntimeError(f"the compiled LSTM kernel is not loaded: {load_error()}")
    return _state["ops"]


def load_error():
    """None once the compiled library is loaded (building it first if needed), else why it is not."""
    if not _state:
        try:
            torch.ops.load_library(str(build()))
            _state["ops"] = torch.ops.lstmkit_compiled
        except (BuildError, OSError, RuntimeError) as e:
            _state["error"] = f"could not be built or loaded ({e})"
    return _state.get("error")


class BuildError(RuntimeError):
    """The C++ compiler is missing or failed; the message holds its first error line."""


def library_path(cache_dir=None) -> Path:
    """Where the built library for this source, torch version, compiler flags and CPU lives."""
    cache = Path(cache_dir or os.environ.get("LSTMKIT_CACHE") or Path.home() / ".cache" / "lstmkit")
    key = hashlib.sha256()
    sources = (src.name.encode() + src.read_bytes() for src in (*SOURCES, *HEADERS))
    for part in (*sources, torch.__version__.encode(), " ".join(_FLAGS).encode(),
                 _compiler().encode(), platform.machine().encode(), _cpu_flags().encode()):
        key.update(part)
    return cache / "compiled" / key.hexdigest()[:16] / "lstmkit_compiled.so"


def build(cache_dir=None, force=False) -> Path:
    """Compile the `csrc/*.cpp` sources into one library in the cache (once; `force` rebuilds) and return the library's path.

    Raises:
        BuildError: no compiler, or it failed.
    """
    out = library_path(cache_dir)
    if out.exists() and not force:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".so", delete=False) as tmp:
        part = Path(tmp.name)
    cmd = [*shlex.split(_compiler()), *_FLAGS, *map(str, SOURCES), "-o", str(part), *_torch_flags()]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        part.unlink(missing_ok=True)
        raise BuildError(f"C++ compiler {_compiler()!r} not found: {e.strerror}") from None
    if done.returncode != 0:
        part.unlink(missing_ok=True)
        first = next((ln for ln in done.stderr.splitlines() if "error" in ln), done.stderr.strip()[:200])
        raise BuildError(f"{_compiler()} failed: {first}")
    part.replace(out)  # atomic: a concurrent build or load never sees half a file
    return out


def _compiler():
    return os.environ.get("CXX") or "g++"


def _torch_flags():
    from torch.utils import cpp_extension  # imports setuptools: only when building
    abi = int(torch.compiled_with_cxx11_abi())
    flags = [f"-D_GLIBCXX_USE_CXX11_ABI={abi}"]
    flags += [f"-I{p}" for p in cpp_extension.include_paths()]
    for lib in cpp_extension.library_paths():
        flags += [f"-L{lib}", f"-Wl,-rpath,{lib}"]
    return flags + ["-lc10", "-ltorch_cpu"]


def _cpu_flags():
    """The CPU's feature flags: the library is built with -march=native for this CPU."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    return next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")


def main(argv=None):
    """`--build`: build the library into the cache (exit status 1, with the reason, when it cannot)."""
    p = argparse.ArgumentParser(description="Build lstmkit's compiled LSTM kernel into its cache.")
    p.add_argument("--build", action="store_true", help="build (if not already built) and print the path")
    p.add_argument("--force", action="store_true", help="rebuild even when the cached library exists")
    a = p.parse_args(argv)
    if a.build or a.force:
        try:
            print(build(force=a.force))
        except BuildError as e:
            print(f"lstmkit: the compiled kernel was not built, the other kernels will run: {e}",
                  file=sys.stderr)
            sys.exit(1)
