"""Throughput benchmark of the driftline worker against bare aiokafka and a bare faust agent.

Run it with `make bench` (or `deploy/run-bench.sh --events 100000` for a quick try);
`bench/throughput.py` is the entry point.
"""
