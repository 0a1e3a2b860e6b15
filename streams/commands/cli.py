"""`driftline` command line: a thin layer over the stream package. Exit codes: 0 ok, 1 failure
found (e.g. drift), 2 bad input or unreachable infrastructure, always with a one-line reason
(commands raise DriftlineError or DetectorError; `main` maps them, once), 70 a worker's internal
failure (streams/worker/fatal.py)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import orjson
import typer
from rich.console import Console

from streams.errors import DriftlineError
from streams.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Streaming model monitoring on Kafka and InfluxDB.")
profile_app = typer.Typer(no_args_is_help=True, help="Reference profiles.")
app.add_typer(profile_app, name="profile")
err = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line


def _settings(overrides: dict | None = None) -> Settings:
    """The settings from the environment; `overrides` (setting -> value, from options) win."""
    from pydantic import ValidationError

    overrides = overrides or {}
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # one line, naming each bad variable (never its value: it may be a secret)
        def name(loc: tuple) -> str:
            key = "_".join(map(str, loc))
            return f"--{key.replace('_', '-')}: " if key in overrides else f"DRIFTLINE_{key.upper()}: "
        problems = "; ".join((name(e["loc"]) if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
                             for e in exc.errors(include_input=False))
        raise DriftlineError(f"invalid settings: {problems}") from exc


EXIT_BAD_INPUT = 2


@app.command()
def worker(
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Run the stream processor (a faust worker) until interrupted."""
    import faust

    from streams.worker.app import build_app
    from streams.worker.garbage import collect_less_often
    from streams.kafka.profiles import ProfileStore
    from streams.sinks.influx import InfluxSink
    from streams.kafka.topics import ensure_topics

    settings = _settings()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("driftline").info("settings: %s", settings.safe_summary())
    ensure_topics(settings)
    profiles = ProfileStore(settings)
    profiles.start()
    sink = InfluxSink(settings)
    sink.check()
    faust_app = build_app(settings, profiles, sink)
    collect_less_often()
    faust.Worker(faust_app, loglevel=log_level, quiet=True).execute_from_commandline()


@profile_app.command("build")
def profile_build(
    reference: Path = typer.Argument(..., help="Reference data: CSV, TSV or JSON Lines of feature rows."),
    model: str = typer.Option(..., "--model", "-m", help="Model id the profile is for."),
    model_version: str = typer.Option("", "--model-version", help="Only for this version (default: all versions)."),
    bins: int = typer.Option(10, help="Quantile bins per numeric feature."),
    prediction_column: str = typer.Option("prediction", help="Column holding the prediction, profiled apart."),
    exclude: list[str] = typer.Option([], "--exclude", help="Columns that are not features (repeatable)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the profile to this JSON file."),
    publish: bool = typer.Option(False, "--publish", help="Publish to the profiles topic."),
    label_column: Optional[str] = typer.Option(None, help="Column of true outcomes: records the baseline performance."),
    task: str = typer.Option("classification", help="With --label-column: classification or regression."),
    positive_class: str = typer.Option("1", help="Binary classification: the positive label (1, true or a name)."),
    threshold: float = typer.Option(0.5, help="Binary classification: a score >= threshold predicts positive."),
) -> None:
    """Build a reference profile from a data set; write it and/or publish it."""
    import dataclasses

    from detectors import build_profile
    from detectors.performance_profile import build_performance_profile
    from schemas import ProfileMessage
    from streams.commands.reference_data import read_columns

    columns = read_columns(reference, exclude=exclude)
    prediction = columns.pop(prediction_column, None)
    labels = None
    if label_column is not None:
        labels = columns.pop(label_column, None)
        if labels is None:
            raise DriftlineError(f"{reference}: no label column {label_column!r}")
        if prediction is None:
            raise DriftlineError(f"{reference}: --label-column needs the prediction column {prediction_column!r}")
    profile = build_profile(columns, bins=bins, prediction=prediction)
    if labels is not None:
        profile = dataclasses.replace(profile, performance=build_performance_profile(
            prediction, labels, task=task, positive=positive_class, threshold=threshold))
    message = ProfileMessage(model_id=model, model_version=model_version, source=str(reference),
                             created_at=dt.datetime.now(dt.timezone.utc).isoformat(), profile=profile.to_dict())
    payload = message.model_dump_json().encode()
    err.print(f"profile of [bold]{message.key}[/]: {profile.rows} rows, {len(profile.features)} features "
              f"({', '.join(f'{n}:{p.kind}' for n, p in profile.features.items())})")
    if profile.performance is not None:
        perf = profile.performance
        shown = ", ".join(f"{k} {v:.4g}" for k, v in perf.baseline.items() if k != "labeled_count")
        err.print(f"baseline performance ({perf.task}, {perf.rows} labelled rows): {shown}"
                  + ("; CBPE calibrated" if perf.calibrator is not None else ""))
    if output is not None:
        output.write_bytes(payload)
        err.print(f"wrote {output}")
    if publish:
        from streams.kafka.publish import publish_profile

        topic = publish_profile(_settings(), message.key, payload)
        err.print(f"published to {topic} (key {message.key!r})")
    if output is None and not publish:
        sys.stdout.write(payload.decode() + "\n")


@app.command()
def simulate(
    rate: float = typer.Option(200.0, help="Events per second per model."),
    batch: int = typer.Option(50, help="Events per Kafka message (1 = single-event messages)."),
    shift_after: float = typer.Option(60.0, help="Seconds before one feature of 'fraud' shifts."),
    shift: float = typer.Option(1.0, help="Size of the shift, in standard deviations."),
    shift_for: float = typer.Option(0.0, help="Seconds the shift lasts (0 = until the end)."),
    duration: float = typer.Option(0.0, help="Stop after this many seconds (0 = until interrupted)."),
    seed: int = typer.Option(1),
    reference_dir: Optional[Path] = typer.Option(None, help="Instead: write reference CSVs for both models here."),
) -> None:
    """A synthetic inference service for two models ('fraud' and 'churn')."""
    from streams.commands import simulate as sim

    if reference_dir is not None:
        reference_dir.mkdir(parents=True, exist_ok=True)
        for m in sim.MODELS:
            sim.write_reference_csv(reference_dir / f"{m}.csv", m, 20_000)
            err.print(f"wrote {reference_dir / f'{m}.csv'}")
        return
    from streams.kafka.publish import EventProducer

    settings = _settings()
    producer = EventProducer(settings)
    rng = np.random.default_rng(seed)
    start = time.time()
    sent = 0
    tick = max(batch / rate, 0.05)
    err.print(f"simulating models {', '.join(sim.MODELS)} at {rate:.0f} events/s each → {settings.predictions_topic}; "
              f"'fraud' shifts its 'amount' after {shift_after:.0f} s")
    shifted = ended = False
    try:
        while duration <= 0 or time.time() - start < duration:
            elapsed = time.time() - start
            if elapsed >= shift_after and not shifted and not ended:
                shifted = True
                err.print(f"[yellow]{time.strftime('%H:%M:%S')} shifting 'amount' of model 'fraud' now[/]")
            if shifted and not ended and shift_for > 0 and elapsed >= shift_after + shift_for:
                shifted, ended = False, True
                err.print(f"[green]{time.strftime('%H:%M:%S')} the shift of 'amount' is over[/]")
            for model in sim.MODELS:
                s = shift if (shifted and model == "fraud") else 0.0
                events = sim.make_events(model, sim.feature_rows(model, batch, rng, s), sim.now_ms(), rng)
                producer.send_events(model, events, batch)
                sent += len(events)
            time.sleep(max(0.0, tick - (time.time() - start - elapsed)))
    except KeyboardInterrupt:
        pass
    finally:
        producer.flush()
        err.print(f"sent {sent} events")


@app.command()
def check(
    reference: Path = typer.Argument(..., help="Reference data (CSV, TSV or JSON Lines)."),
    current: Path = typer.Argument(..., help="Data to check, same formats."),
    by: Optional[str] = typer.Option(None, "--by", help="Split CURRENT into windows by this column."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines, one object per (window, feature)."),
    bins: int = typer.Option(10, help="Quantile bins per numeric feature."),
    exclude: list[str] = typer.Option([], "--exclude", help="Columns that are not features (repeatable)."),
) -> None:
    """Drift statistics and verdicts of CURRENT against REFERENCE. Exit 1 if any window drifts."""
    from streams.commands.check import check_files

    try:
        rows = list(check_files(reference, current, by=by, settings=_settings(), bins=bins, exclude=tuple(exclude)))
    except OSError as exc:  # a file that cannot be read is bad input
        raise DriftlineError(str(exc)) from exc
    if as_json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row.to_dict()).decode() + "\n")
    else:
        from rich.table import Table

        table = Table(title=f"{current} vs {reference}")
        for col in ("window", "feature", "statistic", "value", "p-value", "threshold", "drift"):
            table.add_column(col, justify="right" if col in ("value", "p-value", "threshold") else "left",
                             no_wrap=col in ("window", "feature"))
        for r in rows:
            drift = f"[bold red]{r.severity}[/]" if r.drift else "no"
            table.add_row(r.window, r.feature, r.statistic, "-" if r.value is None else f"{r.value:.4f}",
                          "-" if r.p_value is None else f"{r.p_value:.2e}", f"{r.threshold:g}", drift)
        Console().print(table)
    raise typer.Exit(1 if any(r.drift for r in rows) else 0)


@app.command()
def alerts(
    from_beginning: bool = typer.Option(False, help="Show past alerts too."),
    follow: bool = typer.Option(True, help="Keep waiting for new alerts."),
    pretty: bool = typer.Option(False, help="One readable line per alert instead of JSON."),
) -> None:
    """Print alerts from the alerts topic as they arrive (one JSON object per line)."""
    from streams.kafka.publish import follow_topic

    out = Console(highlight=False)
    try:
        settings = _settings()
        for value in follow_topic(settings, settings.alerts_topic, from_beginning, follow):
            if not pretty:
                sys.stdout.write(value.decode() + "\n")
                sys.stdout.flush()
                continue
            try:
                a = orjson.loads(value)
                resolved = a.get("status") == "resolved"
                colour = "green" if resolved else "red" if a["severity"] == "major" else "yellow"
                label = "RESOLVED" if resolved else {"escalated": "WORSE", "reminder": "STILL"}.get(a.get("reason"), "ALERT")
                out.print(f"[bold {colour}]{label}[/] {a['model_id']}/{a['model_version'] or '-'} "
                          f"[bold]{a['feature']}[/] {a['statistic']}={a['value']:.3f} "
                          f"{'<' if resolved else '>='} {a['threshold']} ({a['severity']}) window "
                          f"{a['window_start'][11:19]}-{a['window_end'][11:19]} UTC"
                          + (f", {a['windows_in_incident']} windows since {a['incident_start'][11:19]}"
                             if a.get("windows_in_incident", 1) > 1 else "") + f" id {a['alert_id'][:12]}")
            except (orjson.JSONDecodeError, KeyError, TypeError):
                out.print(f"[dim]unreadable alert: {value[:200]!r}[/]")
    except KeyboardInterrupt:
        pass


@app.command()
def notify(
    alertmanager: list[str] = typer.Option([], envvar="DRIFTLINE_ALERTMANAGER_URL",
                                          help="Alertmanager base URL (posts to /api/v2/alerts)."),
    webhook: list[str] = typer.Option([], envvar="DRIFTLINE_NOTIFY_WEBHOOK", help="POST each alert event as JSON."),
    exec_: list[str] = typer.Option([], "--exec", envvar="DRIFTLINE_NOTIFY_EXEC",
                                    help="Run a command (shell) with the alert event on stdin."),
    group: Optional[str] = typer.Option(None, help="Consumer group (default: one per set of targets)."),
    since_hours: float = typer.Option(1.0, help="A new group starts with the alerts of the last hours."),
    from_beginning: bool = typer.Option(False, help="A new group starts at the oldest alert kept."),
    resend_seconds: float = typer.Option(60.0, help="Re-send open incidents to Alertmanager this often."),
    timeout_seconds: float = typer.Option(10.0, help="Per attempt: HTTP timeout, or a command's time limit."),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Deliver alert events to Alertmanager, webhooks or commands, at least once (until interrupted)."""
    from streams.commands.notify import build_targets, run_notify

    settings = _settings()
    targets = build_targets(settings, alertmanager=alertmanager, webhook=webhook, commands=exec_,
                            timeout_s=timeout_seconds, resend_s=resend_seconds)
    run_notify(settings, targets, group=group, since_hours=since_hours, from_beginning=from_beginning,
               resend_s=resend_seconds, log_level=log_level)


def _quiet_kafka() -> None:
    """librdkafka's connection errors are summed up in one error line; not one line per retry."""
    logging.getLogger("driftline.kafka").addHandler(logging.NullHandler())


@app.command()
def status(
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh until interrupted."),
    interval: float = typer.Option(5.0, "--interval", help="Seconds between refreshes of --watch."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model."),
    since: str = typer.Option("24h", "--since", help="How far back to look for windows (30m, 24h, 7d)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object (one per refresh with --watch)."),
) -> None:
    """Every model's last window, events/s, latency p95, drifting features, open incidents, and the
    worker group's consumer lag."""
    from streams.commands.status import run_status
    from streams.commands.times import parse_duration

    if not interval > 0:
        raise DriftlineError(f"--interval must be positive, not {interval:g}")
    _quiet_kafka()
    run_status(_settings(), model=model, since_s=parse_duration(since), watch=watch, interval_s=interval,
               as_json=as_json)


@app.command()
def report(
    model: str = typer.Option(..., "--model", "-m", help="The model to report on."),
    since: str = typer.Option("24h", "--since", help="How far back (30m, 24h, 7d)."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
) -> None:
    """One self-contained HTML file: volume, latency, drift per feature, distributions of the
    drifting features, data quality and incidents of a model (opens offline)."""
    from streams.commands.report import run_report
    from streams.commands.times import parse_duration

    _quiet_kafka()
    data = run_report(_settings(), model=model, since_s=parse_duration(since), output=output)
    if data.incidents_problem:
        err.print(f"[yellow]warning:[/] incidents left out: {data.incidents_problem}")
    err.print(f"wrote {output}: {len(data.windows)} window(s) since {since}, "
              f"{len(data.distributions)} distribution(s), "
              + ("incidents unknown" if data.incidents is None else f"{len(data.incidents)} incident(s)"))


def _override(setting: str):
    """An option for the backtest's second run, in place of DRIFTLINE_<SETTING>."""
    return typer.Option(None, f"--{setting.replace('_', '-')}", envvar=f"DRIFTLINE_BACKTEST_{setting.upper()}",
                        show_default=False, help=f"Instead of DRIFTLINE_{setting.upper()}.")


@app.command()
def backtest(
    from_: Optional[str] = typer.Option(None, "--from", help="Start: RFC 3339, epoch ms, now or -2h (Kafka timestamps)."),
    to: str = typer.Option("now", "--to", help="End (exclusive), the same forms."),
    file: Optional[Path] = typer.Option(None, "--file", help="Instead of the topic: wire messages, one a line."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model."),
    profile: list[Path] = typer.Option([], "--profile", help="A profile JSON (profile build -o) instead of the "
                                                              "profiles topic (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object, for scripts."),
    window_seconds: Optional[float] = _override("window_seconds"),
    allowed_lateness_seconds: Optional[float] = _override("allowed_lateness_seconds"),
    psi_threshold: Optional[float] = _override("psi_threshold"),
    psi_major_threshold: Optional[float] = _override("psi_major_threshold"),
    drift_statistics: Optional[str] = _override("drift_statistics"),
    drift_alpha: Optional[float] = _override("drift_alpha"),
    min_window_events: Optional[int] = _override("min_window_events"),
    alert_clear_ratio: Optional[float] = _override("alert_clear_ratio"),
    alert_clear_windows: Optional[int] = _override("alert_clear_windows"),
    alert_repeat_seconds: Optional[float] = _override("alert_repeat_seconds"),
) -> None:
    """Windows, verdicts and incidents of a stretch of the predictions topic (or a file), with the
    live settings and with the options given, side by side. Writes nothing."""
    given = dict(locals())
    _quiet_kafka()
    from streams.commands.backtest import render, run_backtest, to_json
    from streams.commands.replay import TUNABLE
    from streams.commands.times import parse_time

    overrides = {name: given[name] for name in TUNABLE if given[name] is not None}
    live = _settings()
    candidate = _settings(overrides) if overrides else live
    result = run_backtest(live, candidate, overrides, start_ms=None if from_ is None else parse_time(from_),
                          stop_ms=parse_time(to), path=file, profile_files=profile, progress_console=err)
    if as_json:
        sys.stdout.write(orjson.dumps(to_json(result, model)).decode() + "\n")
    else:
        Console().print(render(result, model))


def main() -> None:
    """The one place errors become exit codes: what the user can fix is one line and exit 2."""
    from detectors import DetectorError

    try:
        app()
    except (DriftlineError, DetectorError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
