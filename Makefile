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
