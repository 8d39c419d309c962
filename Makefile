# Two commands on a fresh machine: `make demo` (main job on the simulated sensors) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PLUGINS := plugins/vendor_sim $(wildcard plugins/nb1010) $(wildcard plugins/aes3500)

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml $(foreach p,$(PLUGINS),$(p)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# editable_mode=compat: a path entry, not an import hook, so a folder named `biocap` beside a
	# user's script cannot shadow the package (the hook loses to any namespace folder on the path)
	$(PY) -m pip install -q --config-settings editable_mode=compat -e ".[dev,reference,plot,distributed,centre,face]" $(foreach p,$(PLUGINS),-e $(p))
	touch $(STAMP)

install: $(STAMP)

# the e-KTP main job end to end on the simulated devices, local SQLite files and a local Dask
# cluster: enrollment into the encrypted office store, verified backup, the signed package, a
# centre on 127.0.0.1 that de-duplicates it, and the office's view of the centre's decision
demo: $(STAMP)
	BIN=$(VENV)/bin bash scripts/demo.sh

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

# every benchmark of the README's table (long: tens of minutes; needs ../shared/data)
bench: $(STAMP)
	$(PY) benchmarks/bench_capture.py --out benchmarks
	$(PY) benchmarks/bench_quality_fingerprint.py --matcher both
	$(PY) benchmarks/bench_extract.py
	benchmarks/bench_fingerprint_matching.sh
	$(PY) benchmarks/bench_synthetic_fingerprint.py --seed 7
	benchmarks/bench_iris.sh
	benchmarks/bench_face.sh

clean:
	rm -rf $(VENV) demo-output
