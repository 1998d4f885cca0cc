"""See inside an LSTM: the input, forget and output gates, candidate, cell and hidden state at every step."""
import torch

from .cells import lstm


@torch.no_grad()
def trace_gates(module, x: torch.Tensor) -> list[dict]:
    """Run an lstmkit.nn.LSTM (or torch.nn.LSTM) step by step and record every gate.

    Args:
        module: an LSTM with torch's parameter names (`weight_ih_l0`, ...).
        x: (T, B, I), or (B, T, I) when the module is batch_first.

    Returns:
        One dict per layer and direction (torch's order), each mapping "i", "f", "g", "o", "c", "h"
        to a (T, B, H or P) tensor, in time order.

    Example:
        >>> import torch, lstmkit
        >>> t = lstmkit.trace_gates(lstmkit.nn.LSTM(1, 4), torch.randn(6, 2, 1))
        >>> tuple(t[0]["f"].shape)
        (6, 2, 4)
    """
    from .nn import LSTM
    if not isinstance(module, LSTM):
        ours = LSTM(module.input_size, module.hidden_size, module.num_layers, module.bias,
                    module.batch_first, 0.0, module.bidirectional, module.proj_size)
        ours.load_state_dict(module.state_dict())
        module = ours
    if getattr(module, "spec", None) is not None and module.spec.names():
        from .errors import LstmkitError
        raise LstmkitError("module: trace_gates traces the standard LSTM cell; got one with "
                           + ", ".join(module.spec.names()))
    if module.batch_first:
        x = x.transpose(0, 1)
    directions = 2 if module.bidirectional else 1
    traces = []
    for layer in range(module.num_layers):
        outs = []
        for d in range(directions):
            w = module.layer_weights()[layer * directions + d]
            steps, trace = range(x.shape[0]), []
            h, c = lstm.init_state(x.shape[1], w, x)
            xw = lstm.input_projection(x, w)  # (T, B, 4H)
            for t in (reversed(steps) if d else steps):
                h, (_, c) = lstm.step(xw[t], (h, c), w, trace)
            if d:
                trace.reverse()
            traces.append({k: torch.stack([s[k] for s in trace]) for k in trace[0]})
            outs.append(traces[-1]["h"])
        x = torch.cat(outs, dim=2)
    return traces
