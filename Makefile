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

# a whole e-KTP enrollment on the simulated devices into demo-output/office.db (the operator's
# reason is given for the face and signature, which have no quality provider yet)
demo: $(STAMP)
	rm -rf demo-output && mkdir -p demo-output
	$(VENV)/bin/biocap enroll --policy ektp --subject demo-subject-0001 --store demo-output/office.db \
		--operator-reason "demo operator: reviewed on screen"
	$(VENV)/bin/biocap record show demo-subject-0001 --store demo-output/office.db

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
