"""driftline's producer SDK: log predictions from an inference service.

>>> from driftline import Monitor  # doctest: +SKIP
>>> with Monitor("fraud", model_version="3") as monitor:  # doctest: +SKIP
...     monitor.log({"amount": 12.5, "country": "DE"}, 0.93, latency_ms=4.2)

See driftline/monitor.py; the wire form it sends is schemas/envelope.py.
"""

from driftline.monitor import Monitor, MonitorStats

__all__ = ["Monitor", "MonitorStats"]
