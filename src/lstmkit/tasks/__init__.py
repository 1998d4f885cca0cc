"""Ready pipelines: forecast, classify, translate, transcribe."""
