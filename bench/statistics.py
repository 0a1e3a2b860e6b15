"""Cost of driftline's drift statistics, and a per-window comparison with Evidently's DataDriftPreset.

    .venv/bin/python -m bench.statistics [--events 100000] [--repeats 5] [--no-evidently]

(a) One 100k-event batch of 30 features (25 numeric, 5 categorical) against a 50,000-row profile:
    µs per event of updating the window states (fine-grid histogram shared by PSI/KS/JS/Wasserstein,
    category counts shared by PSI/chi-square, and PSI alone on its 10 bins for comparison), and the
    per-window cost of each statistic, of ModelWindow.snapshot and of DriftPolicy.evaluate.
(b) One window of 5,000 rows against a 50,000-row reference (20 numeric + 5 categorical columns):
    driftline (ModelWindow from the precomputed profile, update, snapshot, DriftPolicy()) next to
    Evidently 0.7 (Report([DataDriftPreset(...)]).run), a no-drift and a shifted window, with the
    per-feature verdicts of two like-for-like configurations:
    - "psi": both flag PSI >= 0.1. Same rule, but numeric bins differ: driftline uses the profile's
      10 reference-quantile bins; Evidently bins reference + window together into Sturges
      equal-width bins (~17 at 55k rows; per value when the reference has <= 20 distinct values).
      Categorical bins are the same (tests/detectors/test_against_evidently.py: equal within 1e-9).
    - "default": Evidently's defaults for a reference of > 1000 rows: numeric Wasserstein-1 / std(ref)
      >= 0.1 (on the raw values), categorical Jensen-Shannon distance (natural log) >= 0.1. driftline
      applies the same rules to its own wasserstein_std (read off the fine grid) and to the JS
      distance (base e) of its category counts.
    driftline's own default policy (effect sizes AND Benjamini-Hochberg on KS/chi-square p-values)
    is shown for information: its definition differs from both.
Times are medians over repeats; on these machines figures vary ±40% run to run, ratios less.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata

import numpy as np
from rich.console import Console
from rich.table import Table

from detectors import CategoricalWindowState, NumericWindowState, bin_numeric, build_profile, psi
from detectors.stats import DriftPolicy, FineGrid, GridHistogram
from detectors.stats.chi_square import chi_square_test, reference_counts
from detectors.stats.jensen_shannon import js_distance
from detectors.stats.ks import ks_from_counts
from detectors.stats.wasserstein import wasserstein_from_counts
from detectors.window import ModelWindow

NUMERIC_KINDS = ("normal", "lognormal", "poisson", "uniform")
CATEGORY_SIZES = (4, 6, 8, 12, 20)
SHIFTED = ("num00", "num01", "num02")  # normal, lognormal, poisson(4): + 0.5 population std
REWEIGHTED = "cat00"
PSI_POLICY = DriftPolicy(thresholds={"psi": (0.1, 0.25)}, pvalue_keys=())
EVIDENTLY_DEFAULT_POLICY = DriftPolicy(thresholds={"wasserstein_std": (0.1, 0.5), "js": (0.1, 0.5)}, pvalue_keys=())


# ---------------------------------------------------------------- data

def _category_probs(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1)
    return p / p.sum()


def make_columns(rng: np.random.Generator, rows: int, numeric: int, *, shifted: bool = False) -> dict:
    """`numeric` numeric columns (normal, lognormal, poisson(4), uniform in turn) and 5 categorical ones."""
    cols: dict[str, object] = {}
    for i in range(numeric):
        kind = NUMERIC_KINDS[i % 4]
        if kind == "normal":
            x, std = rng.normal(10.0 * i, 1.0 + i, rows), 1.0 + i
        elif kind == "lognormal":
            x, std = rng.lognormal(0.0, 0.75, rows), float(np.sqrt((np.exp(0.5625) - 1) * np.exp(0.5625)))
        elif kind == "poisson":
            x, std = rng.poisson(4.0, rows).astype(np.float64), 2.0
        else:
            x, std = rng.uniform(0.0, 100.0, rows), 100.0 / np.sqrt(12.0)
        name = f"num{i:02d}"
        cols[name] = x + 0.5 * std if shifted and name in SHIFTED else x
    for j, k in enumerate(CATEGORY_SIZES):
        name, p = f"cat{j:02d}", _category_probs(k)
        if shifted and name == REWEIGHTED:
            p = p * np.linspace(0.6, 2.0, k)
            p = p / p.sum()
        labels = np.array([f"{name}_v{v}" for v in range(k)], dtype=object)
        cols[name] = labels[rng.choice(k, rows, p=p)].tolist()
    return cols


# ---------------------------------------------------------------- timing

def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_costs(events: int, repeats: int, rng: np.random.Generator) -> list[dict]:
    """(a): update cost per event and snapshot cost per window, per statistic where separable."""
    ref = make_columns(rng, 50_000, 25)
    profile = build_profile(ref)
    batch = make_columns(rng, events, 25)
    latencies = rng.gamma(2.0, 5.0, events)
    num = [n for n, p in profile.features.items() if p.kind == "numeric"]
    cat = [n for n, p in profile.features.items() if p.kind == "categorical"]
    prof = profile.features

    # Update: what the worker does per batch, and PSI alone on its own 10 bins for comparison.
    states = {n: NumericWindowState(prof[n]) for n in num}
    hists = {n: GridHistogram(prof[n].grid) for n in num}
    cstates = {n: CategoricalWindowState(prof[n]) for n in cat}
    window = ModelWindow(profile)
    t_psi_alone = median_seconds(lambda: [bin_numeric(batch[n], prof[n].edges_array) for n in num], repeats)
    t_grid = median_seconds(lambda: [hists[n].update(batch[n]) for n in num], repeats)
    t_numstate = median_seconds(lambda: [states[n].update(batch[n]) for n in num], repeats)
    t_cat = median_seconds(lambda: [cstates[n].update(batch[n]) for n in cat], repeats)
    t_update = median_seconds(lambda: window.update(batch, latencies_ms=latencies, events=events), repeats)

    # Per window: one window that saw exactly this batch once.
    one = ModelWindow(profile)
    one.update(batch, latencies_ms=latencies, events=events)
    hist = {n: one.feature_state(n).sketch for n in num}  # the worker's own window state
    ccounts = {n: one.feature_state(n).sketch.counts for n in cat}
    grids: dict[str, FineGrid] = {n: prof[n].grid for n in num}
    refc = {n: reference_counts(prof[n]) for n in cat}

    def psi_numeric():
        for n in num:  # as NumericWindowState.snapshot: the profile's bins read off the grid
            psi(np.asarray(prof[n].shares), hist[n].coarse_counts(grids[n].cell_groups(prof[n].edges)))

    def js_numeric():
        for n in num:
            starts = grids[n].quantile_groups(10)
            js_distance(np.add.reduceat(grids[n].counts_array, starts), hist[n].coarse_counts(starts))

    snap = one.snapshot()
    policy = DriftPolicy()
    per_window = {
        "psi_num": median_seconds(psi_numeric, repeats),
        "ks": median_seconds(lambda: [ks_from_counts(grids[n], hist[n].counts[None, :]) for n in num], repeats),
        "js": median_seconds(js_numeric, repeats),
        "wasserstein": median_seconds(lambda: [wasserstein_from_counts(
            grids[n], hist[n].counts[None, :], np.array([hist[n].min]), np.array([hist[n].max])) for n in num],
            repeats),
        "psi_cat": median_seconds(lambda: [psi(np.asarray(prof[n].shares), ccounts[n]) for n in cat], repeats),
        "chi2": median_seconds(lambda: [chi_square_test(refc[n], ccounts[n]) for n in cat], repeats),
        "policy": median_seconds(lambda: policy.evaluate(snap["features"]), repeats),
        "total": median_seconds(lambda: policy.evaluate(one.snapshot()["features"]), repeats),
    }
    us = 1e6 / events
    shared_num = "shared: fine-grid histogram"
    shared_cat = "shared: category counts"
    rows = [
        ("psi (numeric)", "25 num", f"{t_psi_alone * us:.3f} alone¹", per_window["psi_num"], shared_num),
        ("ks", "25 num", "shared", per_window["ks"], shared_num),
        ("js", "25 num", "shared", per_window["js"], shared_num),
        ("wasserstein", "25 num", "shared", per_window["wasserstein"], shared_num),
        ("fine-grid histogram (psi, ks, js, wasserstein)", "25 num", f"{t_grid * us:.3f}", None, ""),
        ("NumericWindowState (grid + out-of-range)", "25 num", f"{t_numstate * us:.3f}", None, ""),
        ("psi (categorical)", "5 cat", "shared", per_window["psi_cat"], shared_cat),
        ("chi2", "5 cat", "shared", per_window["chi2"], shared_cat),
        ("category counts (psi, chi2)", "5 cat", f"{t_cat * us:.3f}", None, ""),
        ("DriftPolicy.evaluate", "30", "-", per_window["policy"], "BH + thresholds"),
        ("total: ModelWindow.update / snapshot + DriftPolicy", "30", f"{t_update * us:.3f}", per_window["total"],
         "with latency"),
    ]
    return [{"statistic": s, "features": f, "update": u,
             "window_ms": "-" if w is None else f"{w * 1e3:.2f}",
             "window_us_event": "-" if w is None else f"{w * us:.4f}", "note": note} for s, f, u, w, note in rows]


# ---------------------------------------------------------------- (b) driftline vs Evidently

def driftline_window(profile, cols: dict, rows: int) -> dict:
    window = ModelWindow(profile)
    window.update(cols, latencies_ms=np.empty(0), events=rows)
    snap = window.snapshot()["features"]
    return {"snap": snap, "verdicts": DriftPolicy().evaluate(snap)}


def driftline_like_evidently(profile, snap: dict) -> tuple[dict, dict]:
    """driftline's verdicts under the two like-for-like rules ("psi", "default")."""
    psi_v = PSI_POLICY.evaluate({n: {"psi": s["psi"]} for n, s in snap.items()})
    stats = {}
    for n, s in snap.items():
        if profile.features[n].kind == "numeric":
            stats[n] = {"wasserstein_std": s["wasserstein_std"]}
        else:
            stats[n] = {"js": js_distance(reference_counts(profile.features[n]), np.asarray(s["bin_counts"]),
                                          base=np.e)}
    return psi_v, EVIDENTLY_DEFAULT_POLICY.evaluate(stats)


def evidently_run(ref_ds, cur_df, definition, **preset) -> tuple[float, dict]:
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    run = Report([DataDriftPreset(**preset)], include_tests=True).run(
        Dataset.from_pandas(cur_df, data_definition=definition), ref_ds)
    seconds = time.perf_counter() - start
    out = {}
    for m in run.dict()["metrics"]:
        column = m["config"].get("column")
        if column is not None:
            tests = run.metric_results[m["id"]].tests
            out[column] = (float(m["value"]), m["config"]["method"], tests[0].status.value == "FAIL")
    return seconds, out


def bench_compare(rng: np.random.Generator, window_repeats: int, evidently_repeats: int, console: Console) -> dict:
    import pandas as pd
    from evidently import DataDefinition, Dataset

    ref = make_columns(rng, 50_000, 20)
    t0 = time.perf_counter()
    profile = build_profile(ref)
    profile_s = time.perf_counter() - t0
    cases = {"no drift": make_columns(rng, 5_000, 20), "shifted": make_columns(rng, 5_000, 20, shifted=True)}
    num = [n for n in ref if n.startswith("num")]
    definition = DataDefinition(numerical_columns=num, categorical_columns=[n for n in ref if n.startswith("cat")])
    ref_ds = Dataset.from_pandas(pd.DataFrame(ref), data_definition=definition)
    small = Dataset.from_pandas(pd.DataFrame(ref).iloc[:2000], data_definition=definition)
    evidently_run(small, pd.DataFrame(cases["no drift"]).iloc[:500], definition)  # warm-up: lazy imports
    evidently_run(ref_ds, pd.DataFrame(cases["no drift"]).iloc[:500], definition)  # and full-size first-run costs
    out = {"profile_s": profile_s, "cases": {}}
    for case, cols in cases.items():
        d_s = median_seconds(lambda: driftline_window(profile, cols, 5_000), window_repeats)
        d = driftline_window(profile, cols, 5_000)
        psi_v, def_v = driftline_like_evidently(profile, d["snap"])
        cur_df = pd.DataFrame(cols)
        runs = [evidently_run(ref_ds, cur_df, definition) for _ in range(evidently_repeats)]
        e_def_s, e_def = statistics.median(r[0] for r in runs), runs[-1][1]
        runs = [evidently_run(ref_ds, cur_df, definition, method="psi", threshold=0.1)
                for _ in range(evidently_repeats)]
        e_psi_s, e_psi = statistics.median(r[0] for r in runs), runs[-1][1]
        console.print(f"{case}: driftline {d_s * 1e3:.1f} ms, Evidently default {e_def_s:.2f} s, "
                      f"Evidently psi {e_psi_s:.2f} s")
        rows = []
        for n, s in d["snap"].items():
            rows.append({
                "feature": n, "kind": profile.features[n].kind,
                "psi_d": s["psi"], "psi_e": e_psi[n][0], "psi_dv": psi_v[n].drifted, "psi_ev": e_psi[n][2],
                "def_d": def_v[n].effect, "def_e": e_def[n][0],
                "def_dv": def_v[n].drifted, "def_ev": e_def[n][2],
                "e_method": e_def[n][1], "own": d["verdicts"][n].severity if d["verdicts"][n].drifted else "-",
                "own_metric": d["verdicts"][n].metric if d["verdicts"][n].drifted else ""})
        out["cases"][case] = {"driftline_s": d_s, "evidently_default_s": e_def_s, "evidently_psi_s": e_psi_s,
                              "rows": rows}
    return out


# ---------------------------------------------------------------- output

def machine_info() -> list[tuple[str, str]]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = []
    for pkg in ("numpy", "scipy", "pandas", "evidently"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} -")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [("machine", f"{platform.system()} {platform.release()} {platform.machine()}"), ("cpu", cpu),
            ("cores", f"{os.cpu_count()} ({usable} usable)"), ("python", platform.python_version()),
            ("packages", ", ".join(versions)), ("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))]


LEFT = {"statistic", "features", "feature", "note", "case", "config", "item", "value", "driftline drift",
        "Evidently drift", "own policy"}
METHODS = {"Wasserstein distance (normed)": "W/std", "Jensen-Shannon distance": "JS", "PSI": "psi"}


def emit(title: str, headers: list[str], rows: list[list[str]], console: Console, md: list[str]) -> None:
    table = Table(title=title)
    for h in headers:
        table.add_column(h, justify="left" if h in LEFT else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    md += [f"**{title}**", "", "| " + " | ".join(headers) + " |",
           "|" + "|".join("---" if h in LEFT else "---:" for h in headers) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in rows] + [""]


def yn(flag: bool) -> str:
    return "drift" if flag else "-"


def report_compare(res: dict, console: Console, md: list[str]) -> None:
    summary = []  # driftline's time: ModelWindow + update + snapshot + DriftPolicy() (its own default policy)
    for case, c in res["cases"].items():
        for config, key, dk, ek in (("psi >= 0.1", "evidently_psi_s", "psi_dv", "psi_ev"),
                                    ("Evidently default", "evidently_default_s", "def_dv", "def_ev")):
            agree = sum(r[dk] == r[ek] for r in c["rows"])
            drifted = ", ".join(r["feature"] for r in c["rows"] if r[dk]) or "none"
            e_drifted = ", ".join(r["feature"] for r in c["rows"] if r[ek]) or "none"
            summary.append([case, config, f"{c['driftline_s'] * 1e3:.1f}", f"{c[key]:.2f}",
                            f"{c[key] / c['driftline_s']:.0f}x", f"{agree}/{len(c['rows'])}", drifted, e_drifted])
    emit("(b) one window: 5,000 rows vs a 50,000-row reference, 20 numeric + 5 categorical",
         ["case", "config", "driftline ms", "Evidently s", "speed-up", "verdicts agree", "driftline drift",
          "Evidently drift"], summary, console, md)
    for case, c in res["cases"].items():
        rows = [[r["feature"], f"{r['psi_d']:.4f} / {r['psi_e']:.4f}", f"{yn(r['psi_dv'])} / {yn(r['psi_ev'])}",
                 METHODS.get(r["e_method"], r["e_method"]), f"{r['def_d']:.4f} / {r['def_e']:.4f}",
                 f"{yn(r['def_dv'])} / {yn(r['def_ev'])}",
                 ("yes" if r["psi_dv"] == r["psi_ev"] else "NO") + ", " + ("yes" if r["def_dv"] == r["def_ev"]
                                                                           else "NO"),
                 f"{r['own']} {r['own_metric']}".strip()] for r in c["rows"]]
        emit(f"(b) per feature, {case} (driftline / Evidently)",
             ["feature", "psi", "psi >= 0.1", "default stat", "default value", "default verdict",
              "agree (psi, default)", "own policy"], rows, console, md)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.statistics", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=100_000, help="events per batch in (a) (default 100,000)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement in (a) (median)")
    p.add_argument("--window-repeats", type=int, default=20, help="timed repeats of driftline's window in (b)")
    p.add_argument("--evidently-repeats", type=int, default=1, help="Evidently runs per case and config in (b)")
    p.add_argument("--no-evidently", action="store_true", help="skip (b)")
    p.add_argument("--seed", type=int, default=20261125)
    args = p.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped (make bench, tee): wide enough for the per-feature tables
        console = Console(width=140)
    began = time.perf_counter()
    md: list[str] = []
    load_start = os.getloadavg()
    rng = np.random.default_rng(args.seed)
    costs = bench_costs(args.events, args.repeats, rng)
    emit(f"(a) cost per statistic: {args.events:,}-event batch, 25 numeric + 5 categorical features, "
         "50,000-row profile",
         ["statistic", "features", "update µs/event", "per window ms", "per window µs/event", "note"],
         [[r["statistic"], r["features"], r["update"], r["window_ms"], r["window_us_event"], r["note"]]
          for r in costs], console, md)
    md.append("¹ PSI on its own 10 quantile bins (np.searchsorted on 9 edges); in the worker PSI, KS, JS and "
              "Wasserstein all read one fine-grid histogram (~220 cells), whose update is the shared row.\n")
    if not args.no_evidently:
        try:
            res = bench_compare(rng, args.window_repeats, args.evidently_repeats, console)
        except ImportError as exc:
            console.print(f"[yellow]Evidently not installed ({exc}); pip install -e '.[test]'[/]")
        else:
            report_compare(res, console, md)
            md.append(f"driftline's profile of the 50,000-row reference took {res['profile_s'] * 1e3:.0f} ms, "
                      "once per reference (Evidently re-reads the reference every run). Verdict configs: "
                      "'psi >= 0.1' = both flag PSI >= 0.1 (numeric bins differ: driftline 10 reference "
                      "quantiles, Evidently Sturges equal-width bins over reference + window); 'Evidently "
                      "default' = W1/std(ref) >= 0.1 numeric, JS distance (ln) >= 0.1 categorical, on both "
                      "sides. 'driftline own policy' = DriftPolicy() defaults (effects + BH), for information.\n")
    info = machine_info()
    info[-1] = ("load average 1/5/15 min", f"start {' '.join(f'{x:.2f}' for x in load_start)}, end {info[-1][1]}")
    info.append(("bench runtime", f"{time.perf_counter() - began:.1f} s"))
    emit("machine", ["item", "value"], [[k, v] for k, v in info], console, md)
    console.rule("markdown for the README")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
