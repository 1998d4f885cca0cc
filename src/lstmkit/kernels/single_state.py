"""The stack runner for cells whose only state is h (GRU, simple RNN): `stack.run_stack` with one state."""
from .stack import lengths_to_mask, run_stack


def run_h_stack(layer_fn, x, h0, weights, config, training, mask=None, lengths=None):
    """Run every layer and direction of a single-state stack, as torch.nn.GRU / torch.nn.RNN stack them.

    Args:
        layer_fn: (x, h0, w, reverse, mask, hmask) -> (y (T, B, H), h_n (B, H)).
        x: (T, B, I); h0: (L*D, B, H); weights: list of LayerWeights; config: kernels.KernelConfig.
        training: whether dropout is active; mask: (T, B) bool or None; lengths: (B,) or None.

    Returns:
        (y (T, B, D*H), h_n (L*D, B, H)).
    """
    if lengths is not None:
        mask = lengths_to_mask(lengths, x.shape[0], x.device)

    def two_state(x, h, _c, w, reverse, mask, hmask):  # run_stack carries (h, c): c is h, then dropped
        y, h_n = layer_fn(x, h, w, reverse, mask, hmask)
        return y, h_n, h_n

    y, (h_n, _) = run_stack(two_state, x, (h0, h0), weights, config, training, mask)
    return y, h_n


def backward_loop(cell_backward, dY, dh, reverse, mask):
    """The backward time loop of a single-state fused kernel, masks and outputs handled here.

    Args:
        cell_backward: (t, dh_t) -> a new (B, H) tensor, the gradient reaching h_{t-1} through step t
            (it also stores step t's pre-activation gradients for the weight GEMMs).
        dY: (T, B, H) gradient of the outputs; dh: (B, H) gradient of h_n.
        reverse: the direction the steps ran in; mask: (T, B) bool or None (masked steps keep h
            and output zeros, so their gradient passes to h_{t-1} unchanged).

    Returns:
        dh_0 (B, H), the gradient of h0.
    """
    T = dY.shape[0]
    steps = list(range(T - 1, -1, -1) if reverse else range(T))
    dYs = dY.unbind(0)
    masks = None if mask is None else mask[:, :, None].to(dY.dtype).unbind(0)  # (B, 1) each
    if mask is None:
        dh = dh + dYs[steps[-1]]
    for k, t in enumerate(reversed(steps)):
        if masks is not None:
            dh_state = dh
            dh = (dh + dYs[t]) * masks[t]
        dh = cell_backward(t, dh)
        if masks is not None:
            dh.addcmul_(dh_state, 1 - masks[t])
        elif k < T - 1:
            dh += dYs[steps[-2 - k]]
    return dh
