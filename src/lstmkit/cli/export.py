"""`lstmkit export --model DIR [--onnx OUT.onnx]`: a trained task model as ONNX graphs for onnxruntime."""
import argparse

EXAMPLES = """examples:
  lstmkit export --model runs/forecast-airpassengers      # runs/.../model/model.onnx + model.onnx.json
  lstmkit forecast predict --model runs/forecast-airpassengers --data air.csv --runtime onnx
  lstmkit export --model runs/translate-fr --onnx dist/fr.onnx   # dist/fr.encoder.onnx, dist/fr.decoder.onnx
"""


def register(sub) -> None:
    p = sub.add_parser("export", help="export a task model to ONNX (then predict --runtime onnx)",
                       description="Write a trained forecast, classify, translate or transcribe model as ONNX "
                       "graphs (checked with onnx.checker and against torch in onnxruntime), with a JSON file "
                       "beside them holding the preprocessing and every input's and output's name and shape. "
                       "Translate writes an encoder and a one-step decoder graph (OUT's name with .encoder "
                       "and .decoder before .onnx).", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="DIR", help="a run directory written by train, or its "
                   "model/ directory")
    p.add_argument("--onnx", metavar="OUT.onnx", help="where to write the graph (default: MODEL_DIR/model.onnx, "
                   "where `predict --runtime onnx` looks for it)")
    p.add_argument("--quiet", action="store_true", help="no output")
    p.set_defaults(func=handle)


def handle(args) -> int:
    import json

    from ..export import export_onnx

    sidecar = export_onnx(args.model, args.onnx)
    if not args.quiet:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        for name, file in meta["graphs"].items():
            io = meta["io"][name]
            shapes = lambda specs: ", ".join(f"{s['name']} {tuple(s['shape'])}" for s in specs)  # noqa: E731
            print(f"{sidecar.parent / file}: {shapes(io['inputs'])} -> {shapes(io['outputs'])} "
                  f"(onnxruntime vs torch: {meta['max_abs_diff'][name]:.1e})")
        print(f"{sidecar}: preprocessing, inputs and outputs")
    return 0
