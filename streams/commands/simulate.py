"""A synthetic inference service: two models, one feature shifted after a while.

Used by `driftline simulate` (the demo) and to write matching reference data sets.
"""

from __future__ import annotations

import csv
import time
import uuid
from pathlib import Path

import numpy as np

COUNTRIES = ("DE", "FR", "US", "GB", "ES")
COUNTRY_P = (0.3, 0.2, 0.3, 0.1, 0.1)
MODELS = {"fraud": "amount", "churn": "tenure_months"}  # model -> the feature that will shift


def feature_rows(model: str, n: int, rng: np.random.Generator, shift: float = 0.0) -> list[dict]:
    """n rows of the model's features; `shift` moves its shifting feature by that many std devs."""
    amount = rng.lognormal(3.0, 0.8, n)
    tenure = rng.gamma(2.0, 12.0, n)
    if MODELS.get(model) == "amount":
        amount = amount * np.exp(0.8 * shift)
    elif MODELS.get(model) == "tenure_months":
        tenure = tenure + 12.0 * shift
    age = rng.normal(40, 12, n)
    score = rng.uniform(0, 1, n)
    country = rng.choice(COUNTRIES, n, p=COUNTRY_P)
    missing = rng.random(n) < 0.02
    rows = []
    for i in range(n):
        rows.append({
            "amount": round(float(amount[i]), 2),
            "tenure_months": round(float(tenure[i]), 1),
            "age": None if missing[i] else round(float(age[i]), 1),
            "risk_score": float(score[i]),
            "country": str(country[i]),
        })
    return rows


def write_reference_csv(path: Path, model: str, rows: int, seed: int = 7) -> None:
    data = feature_rows(model, rows, np.random.default_rng(seed))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(data[0]))
        writer.writeheader()
        for row in data:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def make_events(model: str, rows: list[dict], t_ms: int, rng: np.random.Generator) -> list[dict]:
    latencies = rng.gamma(2.0, 4.0, len(rows))
    events = []
    for row, lat in zip(rows, latencies):
        p = 1.0 / (1.0 + np.exp(-(row["risk_score"] - 0.5) * 4))
        events.append({
            "event_id": str(uuid.uuid4()), "model_id": model, "model_version": "1", "timestamp": t_ms,
            "features": row, "prediction": round(float(p), 4), "latency_ms": round(float(lat), 3),
        })
    return events


def now_ms() -> int:
    return int(time.time() * 1000)
