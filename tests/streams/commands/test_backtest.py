"""`driftline backtest --file` as a user runs it, without a broker: a file of wire messages and a
profile file; the JSON has both runs side by side, the table both columns, bad input one line."""

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.streams.commands.seeded import MILD_AND_STRONG, SHIFTS, messages, profile_message, window_of

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))
BASE = 1_767_348_000_000
# No broker is needed with --file and --profile: an unreachable one proves it.
ENV = {**os.environ, "DRIFTLINE_BOOTSTRAP_SERVERS": "127.0.0.1:1", "DRIFTLINE_WINDOW_SECONDS": "10",
       "DRIFTLINE_ALLOWED_LATENESS_SECONDS": "1"}


def _files(tmp_path, shifts):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(messages("m", shifts, BASE)) + b'\n{"not": "an event"}\n\n')
    profile = tmp_path / "m.profile.json"
    profile.write_bytes(profile_message("m"))
    return events, profile


def _run(*args, cwd, env=ENV):
    return subprocess.run([DRIFTLINE, "backtest", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def _events(side):
    return [(e["status"], e["reason"], window_of(e["window_start_ms"], BASE)) for i in side["incidents"]
            for e in i["events"]]


def test_json_has_the_live_run_and_the_overrides_side_by_side(tmp_path):
    events, profile = _files(tmp_path, MILD_AND_STRONG)
    result = _run("--file", events, "--profile", profile, "--psi-threshold", "0.05", "--json", cwd=tmp_path,
                  env={**ENV, "DRIFTLINE_DRIFT_STATISTICS": "psi"})
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    assert (out["messages"], out["events"], out["rejected"]) == (55, 27_000, 1)
    assert out["overrides"] == {"psi_threshold": 0.05}
    assert out["settings"]["live"]["psi_threshold"] == 0.2 and out["settings"]["candidate"]["psi_threshold"] == 0.05
    assert out["settings"]["live"]["window_seconds"] == out["settings"]["candidate"]["window_seconds"] == 10
    (model,) = out["models"]
    assert (model["model_id"], model["model_version"]) == ("m", "v1")
    live, lower = model["live"], model["candidate"]
    assert _events(live) == [("firing", "opened", 5), ("resolved", "resolved", 7)]
    assert _events(lower) == [("firing", "opened", 1), ("resolved", "resolved", 3),
                              ("firing", "opened", 5), ("resolved", "resolved", 7)]
    assert live["summary"] == {"windows": 9, "judged_windows": 9, "events": 27_000, "late_events": 0,
                               "incidents_opened": 1, "incidents_resolved": 1, "open_at_end": 0}
    assert lower["summary"]["incidents_opened"] == 2
    assert lower["flags"] == [{"feature": "f_num_a", "family": "drift", "minor": 1, "major": 1}]
    assert [w["start_ms"] for w in live["windows"]] == [BASE + w * 10_000 for w in range(9)]


def test_the_table_shows_both_runs_and_the_incidents(tmp_path):
    events, profile = _files(tmp_path, SHIFTS)
    result = _run("--file", events, "--profile", profile, "--window-seconds", "20", cwd=tmp_path,
                  env={**ENV, "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "m / v1" in out and "live" in out and "candidate" in out
    assert "window_seconds 10.0 -> 20.0" in out
    assert "windows (judged)" in out and "9 (9)" in out and "5 (5)" in out  # 9 windows of 10 s, 5 of 20 s
    assert "f_num_a/drift" in out and "01-02 10:00:10" in out  # the live incident's opening window


def test_bad_input_is_one_line_and_exit_two(tmp_path):
    events, profile = _files(tmp_path, [0.0])
    cases = [(["--file", tmp_path / "missing.jsonl", "--profile", profile], "missing.jsonl"),
             (["--file", events, "--profile", events], "not a profile message"),
             (["--file", events, "--profile", profile, "--psi-threshold", "-1"], "--psi-threshold"),
             (["--file", events, "--profile", profile, "--drift-statistics", "nope"], "unknown statistics"),
             (["--from", "yesterday"], "not a time"),
             (["--from", "-1h", "--to", "-2h"], "must be after"),
             (["--profile", profile], "give either --from"),
             (["--from", "-1h", "--profile", profile], "Kafka at 127.0.0.1:1")]
    for args, expected in cases:
        result = _run(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
