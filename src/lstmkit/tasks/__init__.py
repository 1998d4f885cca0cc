"""Ready pipelines, one package each, with one contract (see `common`): forecast, classify,
translate, transcribe (and its spoken-digit classifier, `transcribe.digits`)."""
