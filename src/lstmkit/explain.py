"""`explain(module)`: which kernel runs each recurrent layer (LSTM, GRU, RNN) in a model, and why."""
from torch import nn


def explain(module: nn.Module, *, masked: bool = False, file=None) -> str:
    """Print and return, per recurrent layer in `module`, the kernel that runs it and the reason.

    Args:
        module: any torch module; every lstmkit LSTM, GRU and RNN (torch-style or Keras-style) inside it
            is reported.
        masked: report the choice for masked (padded) input (keyword-only).

    Example:
        >>> import lstmkit
        >>> _ = lstmkit.explain(lstmkit.nn.LSTM(4, 8))
        LSTM: native: fastest kernel that supports this configuration
    """
    from .errors import KernelUnavailable
    lines, owners = [], []
    for name, sub in module.named_modules():
        if any(name.startswith(o) for o in owners):
            continue  # Bidirectional's two layers run in its one kernel call, reported once above
        if hasattr(sub, "select_kernel"):
            owners.append(f"{name}." if name else "")  # "": the module itself; its children follow
            try:
                _, reason = sub.select_kernel(masked=masked)
            except KernelUnavailable as e:
                reason = f"error: {e}"
            lines.append(f"{name or type(sub).__name__}: {reason}")
    from .kernels import compiled
    if lines and compiled.load_error():  # the one kernel a machine can lack: say why it is not used
        lines.append(f"(compiled kernel unavailable: {compiled.load_error()})")
    text = "\n".join(lines) if lines else "no lstmkit recurrent layers in this module"
    print(text, file=file)
    return text
