"""Delivery of alert events to where on-call people and automation already are: Prometheus
Alertmanager (alertmanager.py), webhooks and commands (hooks.py), each consumed from the alerts
topic in its own consumer group and committed only after success (delivery.py)."""
