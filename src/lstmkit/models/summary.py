"""`Model.summary()` text, laid out as Keras prints it."""
import torch


def _fmt_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, list):  # several outputs (return_state)
        return ", ".join(_fmt_shape(s) for s in shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _size(n, bytes_per=4):
    b = n * bytes_per
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1024 or unit == "GB":
            return f"{b:.2f} {unit}"
        b /= 1024


def summary_text(name, rows, parameters) -> str:
    """Rows of (layer (type), output shape, parameter count) and the totals, as Keras prints them."""
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    width = (33, 26, 12)
    line = "_" * sum(width)
    out = [f'Model: "{name}"', line,
           f"{'Layer (type)':<{width[0]}}{'Output Shape':<{width[1]}}{'Param #':>{width[2]}}", "=" * sum(width)]
    for k, (layer, shape, count) in enumerate(rows):
        out.append(f"{layer:<{width[0]}}{_fmt_shape(shape):<{width[1]}}{count:>{width[2]},}")
        out.append(line if k == len(rows) - 1 else "")
    if not rows:
        out.append(line)
    itemsize = parameters[0].element_size() if parameters else torch.empty(0).element_size()
    out += [f"Total params: {total:,} ({_size(total, itemsize)})",
            f"Trainable params: {trainable:,} ({_size(trainable, itemsize)})",
            f"Non-trainable params: {total - trainable:,} ({_size(total - trainable, itemsize)})"]
    return "\n".join(out)
