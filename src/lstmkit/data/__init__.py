"""Data: windows, scalers, tokenizers, audio features, dataset loaders, bundled small data sets."""
