# driftline developer targets.
PYTHON ?= .venv/bin/python
STACK  := deploy/stack.sh

.PHONY: stack-up stack-down stack-status

# Start Kafka (KRaft) + InfluxDB on 127.0.0.1 without Docker; prints export lines on stdout,
# so `eval "$(make -s stack-up)"` works.  Settings also land in .driftline.env.
stack-up:
	@$(STACK) up

stack-down:
	@$(STACK) down

# Exit status is ignored here; `deploy/stack.sh status` itself exits 3 when not fully up.
stack-status:
	@$(STACK) status || true

# other targets below
.PHONY: install test demo bench

VENV := .venv

# Creates .venv and installs driftline with its test extras (idempotent, fast when nothing changed).
install: $(VENV)/.installed

# Rust sources too: pip compiles the native batch decoder (native/) into schemas/.
$(VENV)/.installed: pyproject.toml native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs)
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	@echo "installing driftline into $(VENV) (log: $(VENV)/install.log)"
	@{ $(PYTHON) -m pip install --upgrade pip && $(PYTHON) -m pip install -e '.[test]'; } >$(VENV)/install.log 2>&1 \
		|| { tail -30 $(VENV)/install.log; echo "install failed; see $(VENV)/install.log"; exit 1; }
	@touch $@

# The whole test suite against the real local stack; the stack is stopped afterwards either way.
test: install
	@deploy/run-tests.sh $(PYTEST_ARGS)

# Stack, worker, reference profiles and a simulated inference service; Ctrl-C stops all of it.
demo: install
	@deploy/demo.sh

# Throughput of the worker against bare aiokafka and a bare faust agent on the real stack, then the
# cost of each statistic and a window's drift computation next to Evidently's DataDriftPreset, then
# the label join's own figures (predictions and labels per second, bytes per pending prediction),
# then the producer SDK's (µs per Monitor.log, events/s to the broker, envelope vs batch decoding).
bench: install
	@deploy/run-bench.sh
	@deploy/run-stats-bench.sh
	@.venv/bin/python -m bench.join
	@BENCH_MODULE=bench.sdk BENCH_ARGS="$(SDK_BENCH_ARGS)" deploy/run-bench.sh
