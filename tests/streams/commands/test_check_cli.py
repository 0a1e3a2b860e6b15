"""`driftline check` as a CI pipeline runs it: real files, exit codes, JSON Lines."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rows(rng, n, shift=0.0, day=None):
    return [{"x": rng.normal(shift, 1), "y": rng.gamma(2.0, 2.0), "c": rng.choice(["a", "b", "c"]),
             **({"day": day} if day else {})} for _ in range(n)]


def _run(*args, cwd):
    return subprocess.run([DRIFTLINE, "check", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_json_lines_per_window_and_feature_and_exit_code_one_on_drift(tmp_path):
    rng = np.random.default_rng(8)
    ref = _write(tmp_path / "ref.csv", _rows(rng, 20_000))
    cur = _write(tmp_path / "cur.csv", _rows(rng, 3_000, day="d1") + _rows(rng, 3_000, shift=1.0, day="d2"))
    result = _run(ref, cur, "--by", "day", "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    every = [orjson.loads(line) for line in result.stdout.splitlines()]
    quality = {"missing_share", "out_of_range", "unseen_categories", "type_errors"}
    rows = [r for r in every if r["statistic"] not in quality]  # one drift row per window and feature
    assert {r["statistic"] for r in every} & quality and not any(r["drift"] for r in every if r["statistic"] in quality)
    assert {(r["window"], r["feature"]) for r in rows} == {(d, f) for d in ("d1", "d2") for f in ("x", "y", "c")}
    for r in rows:
        assert set(r) == {"window", "feature", "statistic", "value", "p_value", "threshold", "drift", "severity"}
    drifted = {(r["window"], r["feature"]) for r in rows if r["drift"]}
    assert drifted == {("d2", "x")}
    (x2,) = [r for r in rows if r["window"] == "d2" and r["feature"] == "x"]
    assert x2["statistic"] == "psi" and x2["severity"] == "major"


def test_no_drift_exits_zero_with_a_table(tmp_path):
    rng = np.random.default_rng(9)
    ref = _write(tmp_path / "ref.csv", _rows(rng, 20_000))
    cur = _write(tmp_path / "cur.csv", _rows(rng, 5_000))
    result = _run(ref, cur, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "feature" in result.stdout and "Traceback" not in result.stderr


def test_bad_input_exits_two_with_a_message_not_a_traceback(tmp_path):
    ref = _write(tmp_path / "ref.csv", [{"x": 1.0}, {"x": 2.0}])
    (tmp_path / "bad.jsonl").write_text('{"x": 1}\nnot json\n')
    for args in ((ref, tmp_path / "missing.csv"), (ref, tmp_path / "bad.jsonl"), (ref, ref, "--by", "nope")):
        result = _run(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "error:" in result.stderr and "Traceback" not in result.stderr
