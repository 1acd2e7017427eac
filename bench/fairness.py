"""Fairness benchmark: the evaluation engine against Fairlearn's MetricFrame, same data, same run.

    uv run python bench/fairness.py [--rows 10000000] [--seed 0] [--json]

Builds N predictions (y_true, y_pred) with three sensitive features (sex: 3 values, age band: 5,
district: 16), and computes, for each of the 7 groupings (3 features, 3 pairs, the triple
intersection): every per-group rate (selection rate, TPR, FPR, FNR, TNR, PPV, NPV, FDR, FOR,
accuracy), the group counts, and the summaries (max−min difference, min/max ratio, and both
against the overall value), plus demographic parity, equalized odds and equal opportunity.

- engine: `gaodi.engines.evaluation.fairness.classification_fairness` (integer-coded groups, one
  np.bincount over the finest intersection, the other groupings summed from it);
- Fairlearn: one `MetricFrame` per grouping with the same metric functions (Fairlearn's own where it
  has them, the others written the same way), then `.difference()` / `.ratio()` for the summaries.

Each side runs in its own forked process, so its peak memory (VmHWM above the process's memory
when it started; the shared input data is not counted) is its own. The numbers are then compared
group by group: they must agree to 1e-12 wherever both define them (Fairlearn reports some
undefined rates as 0, the engine as None: those are skipped). Prints times, the speed ratio and
peak memory. Never part of the test run; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from gaodi.engines.evaluation.fairness import classification_fairness  # noqa: E402

FEATURES = ("sex", "age_band", "district")
GROUPINGS = [("sex",), ("age_band",), ("district",), ("sex", "age_band"), ("sex", "district"),
             ("age_band", "district"), ("sex", "age_band", "district")]
RATES = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "ppv", "npv", "fdr", "for", "accuracy")
DISTRICTS = ["黄浦", "徐汇", "长宁", "静安", "普陀", "虹口", "杨浦", "闵行", "宝山", "嘉定", "浦东", "金山", "松江",
             "青浦", "奉贤", "崇明"]

DATA: dict[str, object] = {}


def build(rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sex = np.array(["男", "女", "未说明"])[rng.choice(3, rows, p=[0.52, 0.46, 0.02])]
    age = np.array(["18-24", "25-34", "35-44", "45-54", "55+"])[rng.integers(0, 5, rows)]
    district = np.array(DISTRICTS)[rng.integers(0, 16, rows)]
    y_true = rng.random(rows) < 0.35
    bias = np.where(sex == "男", 0.05, 0.0) + np.where(age == "55+", -0.08, 0.0)
    y_pred = rng.random(rows) < np.where(y_true, 0.7, 0.2) + bias
    DATA.update(y_true=y_true, y_pred=y_pred,
                polars={"sex": pl.Series("sex", sex), "age_band": pl.Series("age_band", age),
                        "district": pl.Series("district", district)},
                pandas=pd.DataFrame({"sex": sex, "age_band": age, "district": district}))


def _hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_engine() -> dict:
    out = classification_fairness(DATA["y_true"], DATA["y_pred"], DATA["polars"], GROUPINGS)
    groups = {g["name"]: {g2["label"]: {"count": g2["count"], **g2["rates"]} for g2 in g["groups"]}
              for g in out["groupings"]}
    summaries = {g["name"]: {"summaries": g["summaries"], "fairness": {k: v["value"] for k, v in g["fairness"].items()}}
                 for g in out["groupings"]}
    return {"groups": groups, "summaries": summaries}


def _ratio(num, den):
    return num / den if den else math.nan


def _metric(fn):
    def metric(y_true, y_pred):
        t, p = np.asarray(y_true), np.asarray(y_pred)
        return fn(t, p)
    return metric


def fairlearn_metrics():
    from fairlearn import metrics as flm
    from sklearn.metrics import accuracy_score

    return {
        "count": flm.count, "selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate, "fnr": flm.false_negative_rate, "tnr": flm.true_negative_rate,
        "ppv": _metric(lambda t, p: _ratio(((t == 1) & (p == 1)).sum(), (p == 1).sum())),
        "npv": _metric(lambda t, p: _ratio(((t == 0) & (p == 0)).sum(), (p == 0).sum())),
        "fdr": _metric(lambda t, p: _ratio(((t == 0) & (p == 1)).sum(), (p == 1).sum())),
        "for": _metric(lambda t, p: _ratio(((t == 1) & (p == 0)).sum(), (p == 0).sum())),
        "accuracy": accuracy_score,
    }


def run_fairlearn() -> dict:
    from fairlearn.metrics import MetricFrame

    y_true, y_pred = DATA["y_true"].astype(np.int64), DATA["y_pred"].astype(np.int64)
    metrics = fairlearn_metrics()
    groups, summaries = {}, {}
    for grouping in GROUPINGS:
        sensitive = DATA["pandas"][list(grouping)] if len(grouping) > 1 else DATA["pandas"][grouping[0]]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            frame = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive)
            diff, ratio = frame.difference(), frame.ratio()
            diff_o, ratio_o = frame.difference(method="to_overall"), frame.ratio(method="to_overall")
        name = " × ".join(grouping)
        by_group = frame.by_group
        groups[name] = {(" × ".join(k) if isinstance(k, tuple) else k): row.to_dict() for k, row in by_group.iterrows()}
        summaries[name] = {
            "summaries": {r: {"difference": diff[r], "ratio": ratio[r], "to_overall_difference": diff_o[r],
                              "to_overall_ratio": ratio_o[r]} for r in RATES},
            "fairness": {
                "demographic_parity_difference": diff["selection_rate"], "demographic_parity_ratio": ratio["selection_rate"],
                "equalized_odds_difference": max(diff["tpr"], diff["fpr"]),
                "equalized_odds_ratio": min(ratio["tpr"], ratio["fpr"]),
                "equal_opportunity_difference": diff["tpr"], "equal_opportunity_ratio": ratio["tpr"],
            },
        }
    return {"groups": groups, "summaries": summaries}


def _child(name: str, queue: mp.Queue) -> None:
    start_rss = _rss_kib()
    began = time.perf_counter()
    result = run_engine() if name == "engine" else run_fairlearn()
    seconds = time.perf_counter() - began
    queue.put({"seconds": seconds, "peak_extra_mib": (_hwm_kib() - start_rss) / 1024, "result": result})


def measure(name: str) -> dict:
    context = mp.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(name, queue))
    process.start()
    answer = queue.get()
    process.join()
    return answer


def compare(engine: dict, fairlearn: dict) -> tuple[int, float, int]:
    """(values compared, largest absolute difference, groups compared)."""
    compared, worst, groups = 0, 0.0, 0
    for name, table in engine["groups"].items():
        theirs_table = fairlearn["groups"][name]
        assert set(table) == {k for k, v in theirs_table.items() if v["count"] > 0}, name
        for label, ours in table.items():
            theirs = theirs_table[label]
            assert ours["count"] == int(theirs["count"]), (name, label)
            groups += 1
            for rate in RATES:
                if ours[rate] is None or math.isnan(theirs[rate]):
                    continue
                worst = max(worst, abs(ours[rate] - theirs[rate]))
                compared += 1
        for rate in RATES:
            summary = engine["summaries"][name]["summaries"][rate]
            if summary["undefined_groups"]:
                continue
            for key, value in fairlearn["summaries"][name]["summaries"][rate].items():
                if summary[key] is not None and not math.isnan(value):
                    worst = max(worst, abs(summary[key] - value))
                    compared += 1
        for key, value in fairlearn["summaries"][name]["fairness"].items():
            ours = engine["summaries"][name]["fairness"][key]
            if ours is not None and not math.isnan(value):
                worst = max(worst, abs(ours - value))
                compared += 1
    return compared, worst, groups


def machine() -> dict:
    import fairlearn

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "memory_gib": round(memory, 1),
            "platform": platform.platform(), "numpy": np.__version__, "polars": pl.__version__,
            "pandas": pd.__version__, "fairlearn": fairlearn.__version__,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()
    began = time.perf_counter()
    build(args.rows, args.seed)
    built = time.perf_counter() - began
    engine = measure("engine")
    fairlearn = measure("fairlearn")
    compared, worst, groups = compare(engine["result"], fairlearn["result"])
    equal = worst <= 1e-12
    report = {
        "rows": args.rows, "groupings": len(GROUPINGS), "groups": groups, "values_compared": compared,
        "max_abs_difference": worst, "equal": equal, "build_s": round(built, 2),
        "engine_s": round(engine["seconds"], 3), "fairlearn_s": round(fairlearn["seconds"], 3),
        "speedup": round(fairlearn["seconds"] / engine["seconds"], 1),
        "engine_peak_extra_mib": round(engine["peak_extra_mib"], 1),
        "fairlearn_peak_extra_mib": round(fairlearn["peak_extra_mib"], 1),
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"rows {args.rows:,}; 3 sensitive features; {len(GROUPINGS)} groupings ({groups} groups)")
        print(f"engine    {engine['seconds']:8.2f} s   peak +{engine['peak_extra_mib']:8.1f} MiB")
        print(f"fairlearn {fairlearn['seconds']:8.2f} s   peak +{fairlearn['peak_extra_mib']:8.1f} MiB")
        print(f"speed-up  {report['speedup']}x")
        print(f"numbers   {compared} values compared, max |difference| {worst:.3g} -> {'EQUAL' if equal else 'DIFFERENT'}")
        print(f"machine   {report['machine']}")
    if not equal:
        sys.exit(1)


if __name__ == "__main__":
    main()
