"""Keras' functional API: `Input` -> layers called on symbolic tensors -> `Model(inputs, outputs)`.

Calling an lstmkit layer on a `KerasTensor` (an `Input`, or what an earlier call returned) runs
nothing: it builds the layer from the known shape and records a `Node` (the layer, its arguments).
The model replays the nodes in order on real tensors, passing masks along as `Sequential` does; a
layer called twice shares its weights. A model may have several inputs and several outputs (a list,
or a dict keyed by output name), layers with several outputs (`LSTM(return_state=True)`) and
keyword tensors (`initial_state=[h, c]`); a model is itself a layer of another model.

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
from ..layers import Input, KerasTensor, Layer, deserialize, serialize
from ..layers.base import default_name, map_structure
from . import data, registry
from .model import Model


class InputLayer(Layer):
    """What `model.layers` lists for each `Input`, as in Keras (no weights, never run)."""

    def __init__(self, tensor, name):
        super().__init__(name=name)
        self.output, self.built, self.batch_shape = tensor, True, tensor.shape


class Functional(Model):
    """A model made of layers called on symbolic tensors (built by `Model(inputs, outputs)`).

    Args:
        inputs: an `Input`, or a list of them (the order of the arrays given to fit/predict).
        outputs: the KerasTensor the model returns, a list of them, or a dict {name: KerasTensor}.
        name: the model's name in summaries.

    Attributes:
        inputs, outputs: lists of the input and output KerasTensors; `input` and `output` are the
            tensor itself for a one-input (one-output) model, as in Keras.
        output_names: one per output: the dict key, or the name of the layer that made it.
    """

    def __init__(self, inputs, outputs, name="functional"):
        super().__init__()
        self.name = name
        self.inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not self.inputs or not all(isinstance(t, Input) for t in self.inputs):
            raise LstmkitError("inputs: expected an Input(shape=...) or a list of them")
        self._structure = outputs
        self.outputs = _output_list(outputs)
        self.input = self.inputs[0] if not isinstance(inputs, (list, tuple)) else self.inputs
        self.output = outputs
        self.nodes, operations = _graph(self.inputs, self.outputs)
        stray = [t for t in operations if isinstance(t, KerasTensor) and all(t is not i for i in self.inputs)]
        if stray:
            raise LstmkitError(f"inputs: the outputs depend on an Input of shape {stray[0].shape} "
                               "that is not in inputs")
        self._register([op for op in operations if not isinstance(op, KerasTensor)])
        taken = {t.name for t in self.inputs if t.name}
        self._input_layers = []
        for t in self.inputs:  # unnamed inputs are called as Keras calls them: input_layer, input_layer_1
            name = t.name or self._unique_name("input_layer", taken)
            taken.add(name)
            self._input_layers.append(InputLayer(t, name))
        by_tensor = {id(t): layer for t, layer in zip(self.inputs, self._input_layers)}
        self.layers = [by_tensor[id(op)] if isinstance(op, KerasTensor) else op for op in operations]
        self.input_names = [layer.name for layer in self._input_layers]
        self.output_names = (list(outputs) if isinstance(outputs, dict) else
                             [t.layer.name if t.layer is not None else t.name for t in self.outputs])

    def _register(self, layers):
        """Name every layer (names already given, by the user or another model, stay) and register
        it in Keras' order, which is also the order of get_weights."""
        self._layers, named = layers, {}
        for layer in layers:
            if getattr(layer, "name", None) is not None:
                if layer.name in named:
                    raise LstmkitError(f"layers: two different layers are named {layer.name!r}; "
                                       "layer names in a model must be unique")
                named[layer.name] = layer
        for layer in layers:
            if getattr(layer, "name", None) is None:
                layer.name = self._unique_name(default_name(layer), taken=named)
                named[layer.name] = layer
            self.add_module(layer.name, layer)

    def forward(self, *xs):
        if len(xs) == 1 and len(self.inputs) > 1 and isinstance(xs[0], (list, tuple)):
            xs = tuple(xs[0])  # model([a, b]), as when this model is a layer of another
        if len(xs) != len(self.inputs):
            raise LstmkitError(f"x: the model takes {len(self.inputs)} input(s), got {len(xs)}")
        values = {id(t): x for t, x in zip(self.inputs, xs)}
        masks = {}
        for node in self.nodes:
            kwargs = {}
            first = node.args[0]
            mask = map_structure(first, lambda t: masks.get(id(t)))
            mask = mask if _any(mask) else None
            if mask is not None and isinstance(node.layer, Layer) and "mask" not in node.kwargs:
                kwargs["mask"] = mask
            args, call_kwargs = map_structure((node.args, node.kwargs), lambda t: values[id(t)])
            out = node.layer(*args, **call_kwargs, **kwargs)
            outs = out if len(node.outputs) > 1 else [out]
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
            if isinstance(node.layer, Layer):
                masks[id(node.outputs[0])] = node.layer.compute_mask(args[0], mask)
        return map_structure(self._structure, lambda t: values[id(t)])

    def compute_output_shape(self, input_shape):
        """The output KerasTensors' shapes (used when this model is a layer of another)."""
        shapes = [t.shape for t in self.outputs]
        return shapes if isinstance(self._structure, (list, tuple, dict)) else shapes[0]

    def build(self, input_shape):
        """Nothing to do: a functional model is built when it is made."""

    def get_layer(self, name=None, index=None):
        """The layer called `name` (or at `index` in `model.layers`), as Keras' get_layer."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise LstmkitError(f"index: the model has {len(self.layers)} layers, got {index}")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise LstmkitError(f"name: no layer named {name!r}; the model has "
                           f"{', '.join(repr(layer.name) for layer in self.layers)}")

    def _check_inputs(self, xs):
        if len(xs) != len(self.inputs):
            raise LstmkitError(f"x: the model takes {len(self.inputs)} input array(s), got {len(xs)}")
        for k, (t, x) in enumerate(zip(self.inputs, xs)):
            name = "x" if len(xs) == 1 else f"x[{k}]"
            data.check_input_shape(x, t.shape[1:], name, "the Input's shape")
            for node in self.nodes:  # e.g. token ids outside an Embedding: one clear line
                if node.args[0] is t and isinstance(node.layer, Layer):
                    node.layer.check_data(x, name)

    def summary_rows(self):
        """Each input, then each layer once (a shared layer shows its first call's output shape)."""
        rows = []
        for layer in self.layers:
            if isinstance(layer, InputLayer):
                rows.append((f"{layer.name} (InputLayer)", layer.batch_shape, 0))
                continue
            node = next(n for n in self.nodes if n.layer is layer)
            shape = [t.shape for t in node.outputs] if len(node.outputs) > 1 else node.outputs[0].shape
            rows.append((f"{layer.name} ({type(layer).__name__})", shape,
                         sum(p.numel() for p in layer.parameters())))
        return rows

    def get_config(self):
        for layer in self._layers:
            if not isinstance(layer, (Layer, Model)):
                raise LstmkitError(f"save: layer {type(layer).__name__} cannot be described in config.json")
        refs = {id(t): ["input", k, 0] for k, t in enumerate(self.inputs)}
        nodes = []
        for j, node in enumerate(self.nodes):
            index = next(k for k, layer in enumerate(self._layers) if layer is node.layer)
            nodes.append({"layer": index, "args": _encode(node.args, refs),
                          "kwargs": _encode(node.kwargs, refs)})
            refs.update({id(t): ["node", j, t.index] for t in node.outputs})
        return {"name": self.name,
                "inputs": [{"shape": list(t.shape[1:]), "batch_size": t.shape[0], "dtype": t.dtype,
                            "name": t.name} for t in self.inputs],
                "layers": [serialize(layer) for layer in self._layers],
                "nodes": nodes, "outputs": _encode(self._structure, refs)}

    @classmethod
    def from_config(cls, config):
        inputs = [Input(shape=spec["shape"], batch_size=spec.get("batch_size"), dtype=spec["dtype"],
                        name=spec.get("name")) for spec in config["inputs"]]
        layers = [deserialize(spec, registry.MODELS) for spec in config["layers"]]
        made = []

        def resolve(ref):
            kind, k, index = (*ref, 0) if len(ref) == 2 else ref
            if kind == "input":
                return inputs[k]
            out = made[k]
            return out[index] if isinstance(out, list) else out

        for node in config["nodes"]:
            if "args" not in node:  # the format of lstmkit 0.1's first model files
                args = [resolve(r) for r in node["inputs"]]
                made.append(layers[node["layer"]](args if node["list"] else args[0]))
                continue
            args = _decode(node["args"], resolve)
            made.append(layers[node["layer"]](*args, **_decode(node["kwargs"], resolve)))
        outputs = _decode(config["outputs"], resolve) if "outputs" in config else resolve(config["output"])
        return cls(inputs if len(inputs) > 1 else inputs[0], outputs, name=config.get("name", "functional"))


registry.register(Functional)


def _output_list(outputs):
    items = list(outputs.values()) if isinstance(outputs, dict) else (
        list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])
    if not items or not all(isinstance(t, KerasTensor) for t in items):
        raise LstmkitError("outputs: expected the tensor(s) layers returned when called on Inputs, got "
                           f"{type(outputs).__name__}")
    return items


def _any(structure):
    if isinstance(structure, (list, tuple)):
        return any(_any(s) for s in structure)
    return structure is not None


def _encode(structure, refs):
    """JSON for args/kwargs/outputs: KerasTensors become {"ref": [kind, k, output index]}."""
    if isinstance(structure, KerasTensor):
        return {"ref": refs[id(structure)]}
    if isinstance(structure, (list, tuple)):
        return [_encode(s, refs) for s in structure]
    if isinstance(structure, dict):
        return {"dict": {k: _encode(v, refs) for k, v in structure.items()}}
    return {"value": structure}


def _decode(structure, resolve):
    if isinstance(structure, list):
        return [_decode(s, resolve) for s in structure]
    if "ref" in structure:
        return resolve(structure["ref"])
    if "dict" in structure:
        return {k: _decode(v, resolve) for k, v in structure["dict"].items()}
    return structure["value"]


def _graph(inputs, outputs):
    """(nodes in the order they run, operations in Keras' `model.layers` order).

    Keras' rule: a depth-first walk from the outputs numbers the operations as it meets them and
    lists the nodes inputs-first; a node's depth is one more than that of its deepest consumer, an
    operation's the largest of its nodes'; operations are ordered by decreasing depth, then number.
    An operation is a layer, or the Input tensor itself. No recursion, so no depth limit.
    """
    order, number, finished, active = [], {}, set(), set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        t, done = stack.pop()
        item = t.node if t.node is not None else t
        if done:
            finished.add(id(item))
            active.discard(id(item))
            order.append(item)
            continue
        if id(item) in finished or id(item) in active:
            continue
        op = t.node.layer if t.node is not None else t
        number.setdefault(id(op), (len(number), op))
        active.add(id(item))
        stack.append((t, True))
        if t.node is not None:
            stack.extend((x, False) for x in reversed(t.node.inputs))
    depth, op_depth = {}, {}
    for item in reversed(order):
        op = item.layer if not isinstance(item, KerasTensor) else item
        d = max(depth.setdefault(id(item), 0), op_depth.get(id(op), 0))
        op_depth[id(op)] = depth[id(item)] = d
        for parent in (item.inputs if not isinstance(item, KerasTensor) else ()):
            p = parent.node if parent.node is not None else parent
            depth[id(p)] = max(d + 1, depth.get(id(p), 0))
    for t in inputs:  # an input the outputs do not use still belongs to the model
        if id(t) not in number:
            number[id(t)], op_depth[id(t)] = (-1, t), 0
    ops = sorted(number.values(), key=lambda n_op: (-op_depth[id(n_op[1])], n_op[0]))
    return [item for item in order if not isinstance(item, KerasTensor)], [op for _, op in ops]
