"""Keras' functional API: `Input` -> layers called on symbolic tensors -> `Model(inputs, outputs)`.

Calling an lstmkit layer on a `KerasTensor` (an `Input`, or what an earlier call returned) runs
nothing: it builds the layer from the known shape and records a node (layer, input tensors). The
model replays the nodes in order on real tensors, passing masks along as `Sequential` does; a
layer called twice shares its weights. Several inputs are fine (merge them with `Concatenate` or
`Add`); the model has one output.

Example:
    >>> from lstmkit.layers import Input, LSTM, Dense, Concatenate
    >>> from lstmkit.models import Model
    >>> series, calendar = Input(shape=(None, 1)), Input(shape=(4,))
    >>> h = LSTM(16)(series)
    >>> out = Dense(1)(Concatenate()([h, calendar]))
    >>> model = Model(inputs=[series, calendar], outputs=out)
    >>> model.count_params()   # LSTM 4*(16*(1+16)+16) + Dense 20+1
    1173
"""
from ..errors import LstmkitError
from ..layers import Input, KerasTensor, Layer
from ..layers.base import default_name
from .model import Model, check_input_shape


class Functional(Model):
    """A model made of layers called on symbolic tensors (built by `Model(inputs, outputs)`).

    Args:
        inputs: an `Input`, or a list of them (the order of the arrays given to fit/predict).
        outputs: the KerasTensor the model returns.
        name: the model's name in summaries.
    """

    def __init__(self, inputs, outputs, name="functional"):
        super().__init__()
        self.name = name
        self.inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not self.inputs or not all(isinstance(t, Input) for t in self.inputs):
            raise LstmkitError("inputs: expected an Input(shape=...) or a list of them")
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise LstmkitError(f"outputs: a model has one output here, got {len(outputs)}")
            outputs = outputs[0]
        if not isinstance(outputs, KerasTensor):
            raise LstmkitError("outputs: expected the tensor a layer returned when called on an "
                               f"Input, got {type(outputs).__name__}")
        self.output = outputs
        self.nodes = _topological(outputs)
        stray = [t for t in self.nodes if t.layer is None and all(t is not i for i in self.inputs)]
        if stray:
            raise LstmkitError(f"inputs: the outputs depend on an Input of shape {stray[0].shape} "
                               "that is not in inputs")
        self.nodes = [t for t in self.nodes if t.layer is not None]
        self.layers = []
        for node in self.nodes:
            if all(node.layer is not seen for seen in self.layers):
                self.layers.append(node.layer)
        named = {}
        for layer in self.layers:  # names already given (by the user, or by another model) stay
            if layer.name is not None:
                if layer.name in named:
                    raise LstmkitError(f"layers: two different layers are named {layer.name!r}; "
                                       "layer names in a model must be unique")
                named[layer.name] = layer
        for layer in self.layers:  # in graph order, which is also the order of get_weights
            if layer.name is None:
                layer.name = self._unique_name(default_name(layer), taken=named)
                named[layer.name] = layer
            self.add_module(layer.name, layer)

    def forward(self, *xs):
        values = {id(t): (x, None) for t, x in zip(self.inputs, xs)}  # tensor -> (value, mask)
        for node in self.nodes:
            got = [values[id(t)] for t in node.inputs]
            if len(got) == 1:
                x, mask = got[0]
            else:
                x = [v for v, _ in got]
                mask = [m for _, m in got] if any(m is not None for _, m in got) else None
            out = node.layer(x) if mask is None else node.layer(x, mask=mask)
            values[id(node)] = (out, node.layer.compute_mask(x, mask))
        return values[id(self.output)][0]

    def _check_inputs(self, xs):
        if len(xs) != len(self.inputs):
            raise LstmkitError(f"x: the model takes {len(self.inputs)} input array(s), got {len(xs)}")
        for k, (t, x) in enumerate(zip(self.inputs, xs)):
            name = "x" if len(xs) == 1 else f"x[{k}]"
            check_input_shape(x, t.shape[1:], name, "the Input's shape")
            for node in self.nodes:  # e.g. token ids outside an Embedding: one clear line
                if len(node.inputs) == 1 and node.inputs[0] is t and isinstance(node.layer, Layer):
                    node.layer.check_data(x, name)

    def summary_rows(self):
        """Each input, then each layer once (a shared layer shows its first call's output shape)."""
        rows = [(f"{t.name or f'input_{k}'} (Input)", t.shape, 0) for k, t in enumerate(self.inputs)]
        for layer in self.layers:
            shape = next(n.shape for n in self.nodes if n.layer is layer)
            rows.append((f"{layer.name} ({type(layer).__name__})", shape,
                         sum(p.numel() for p in layer.parameters())))
        return rows

    def get_config(self):
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise LstmkitError(f"save: layer {type(layer).__name__} cannot be described in config.json")
        refs = {id(t): ["input", k] for k, t in enumerate(self.inputs)}
        nodes = []
        for j, node in enumerate(self.nodes):
            index = next(k for k, layer in enumerate(self.layers) if layer is node.layer)
            nodes.append({"layer": index, "inputs": [refs[id(t)] for t in node.inputs],
                          "list": node.list_input})
            refs[id(node)] = ["node", j]
        return {"name": self.name,
                "inputs": [{"shape": list(t.shape[1:]), "dtype": t.dtype, "name": t.name} for t in self.inputs],
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers],
                "nodes": nodes, "output": refs[id(self.output)]}

    @classmethod
    def from_config(cls, config):
        from .sequential import layer_from_config

        inputs = [Input(shape=spec["shape"], dtype=spec["dtype"], name=spec.get("name"))
                  for spec in config["inputs"]]
        layers = [layer_from_config(spec) for spec in config["layers"]]
        made = []

        def resolve(ref):
            kind, k = ref
            return inputs[k] if kind == "input" else made[k]

        for node in config["nodes"]:
            args = [resolve(r) for r in node["inputs"]]
            made.append(layers[node["layer"]](args if node["list"] else args[0]))
        return cls(inputs, resolve(config["output"]), name=config.get("name", "functional"))


def _topological(output) -> list:
    """Every tensor the output depends on, inputs first (depth-first, no recursion limit)."""
    order, seen, stack = [], set(), [(output, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        stack.extend((t, False) for t in reversed(tensor.inputs) if id(t) not in seen)
    return order

