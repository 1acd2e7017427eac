"""Data quality benchmark: the engine against ydata-profiling and Presidio, in one run.

    uv sync --group bench          # once: installs the peers (ydata-profiling, presidio-analyzer)
    uv run python bench/dataquality.py [--rows 10000000] [--peer-rows 200000] [--presidio-rows 20000]
                                       [--dir DIR] [--json]

What it does:

1. Generates a table of ``--rows`` rows (default 10 million) and 20 columns — integers, decimals,
   dates, date-times, booleans, Chinese names and texts, and synthetic sensitive values made by
   `gaodi.engines.dataquality.synthetic` (identity numbers with 5% wrong check digits, mobiles,
   credit codes, bank cards, e-mail, IPv4/IPv6, licence plates, and phone numbers inside free
   text) — and writes it once as Parquet (row groups of 1 million) into a temporary directory
   (``--dir`` keeps it and reuses it on the next run).
2. Profiles the whole file with the engine (`profile_file`, with a rules file: key, timeliness,
   a range and a cross-column rule) and scans it (`scan_file`).
3. Runs ydata-profiling in minimal mode (``ProfileReport(df, minimal=True).get_description()``,
   the statistics without rendering) on the first ``--peer-rows`` rows and on half as many, and
   the engine on the same rows. ydata-profiling cannot profile 10 million rows in reasonable time
   here, so its time for the full table is extrapolated *linearly* from the larger sample; its
   measured growth between the two samples is printed too (when it grows faster than linearly,
   linear extrapolation flatters it). The pandas frame is built before the clock starts.
4. Runs Presidio's PatternRecognizers, configured with the same patterns and the same validation
   (check digits, precedence between identity numbers, credit codes and cards) as the engine, on
   the text of every scanned column of the first ``--presidio-rows`` rows. No spaCy model can be
   downloaded here, so the recognizers' ``analyze`` is called directly instead of going through
   ``AnalyzerEngine`` (which would add NLP processing per value): this is the cheapest way to run
   Presidio, so it favours the peer. The engine scans the same rows; the counts of valid findings
   per entity type must be equal, or the run fails. Presidio's time for the full table is
   extrapolated linearly (it handles one value at a time, so its cost is linear).

Every measured step runs in its own process, so each peak memory (VmHWM) is its own; CPU seconds
(all threads) are given beside wall-clock seconds for the same timed region. The ratios
printed are peer time / engine time, on the same rows, and for the full table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SEED = 20220922
ROW_GROUP = 1_000_000
TODAY = date(2024, 6, 30)

RULES = """
[table]
key = ["order_id"]
date_column = "updated_date"
max_age = "90d"
as_of = "2024-06-30"

[columns.quantity]
min = 0
max = 100

[[rule]]
name = "updated after created"
expr = "updated_date >= date(created_at)"
"""


# --- the table -----------------------------------------------------------------------------------


def make_chunk(start: int, n: int, seed: int) -> Any:
    import numpy as np
    import polars as pl

    from gaodi.engines.dataquality import synthetic

    rng = np.random.default_rng(seed)
    cities = ["上海", "北京", "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安"]
    districts = ["浦东新区", "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区", "宝山区",
                 "嘉定区", "金山区", "松江区", "青浦区", "奉贤区", "崇明区"]
    status = ["已完成", "处理中", "已取消", "待支付"]
    created = np.datetime64("2023-01-01T00:00:00") + rng.integers(0, 540 * 86400, n).astype("timedelta64[s]")
    updated = created.astype("datetime64[D]") + rng.integers(0, 60, n).astype("timedelta64[D]")
    phones = synthetic.mobiles(n, rng)
    remark_kind = rng.random(n)
    remark = pl.select(
        pl.when(pl.Series(remark_kind < 0.1)).then(pl.concat_str([pl.lit("请联系客户，电话"), phones.shuffle(seed)]))
        .when(pl.Series(remark_kind < 0.2)).then(pl.lit("送货前请先电话确认，谢谢"))
        .otherwise(pl.lit("无"))
    ).to_series()
    amount = rng.normal(300, 120, n).round(2)
    amount_null = rng.random(n) < 0.02
    ip6 = synthetic.ipv6s(n, rng)
    return pl.DataFrame({
        "order_id": np.arange(start, start + n, dtype=np.int64),
        "customer_name": synthetic.chinese_names(n, rng),
        "resident_id": synthetic.resident_ids(n, rng, bad_check_fraction=0.05),
        "mobile": phones,
        "email": synthetic.emails(n, rng),
        "company_code": synthetic.usccs(n, rng),
        "bank_card": synthetic.bank_cards(n, rng),
        "plate": synthetic.plates(n, rng),
        "client_ip": synthetic.ipv4s(n, rng),
        "device_ip6": pl.select(pl.when(pl.Series(rng.random(n) < 0.1)).then(ip6)).to_series(),
        "city": pl.Series(cities, dtype=pl.String).gather(rng.integers(0, len(cities), n)),
        "district": pl.Series(districts, dtype=pl.String).gather(rng.integers(0, len(districts), n)),
        "status": pl.Series(status, dtype=pl.String).gather(rng.integers(0, len(status), n)),
        "remark": remark,
        "amount": pl.Series(np.where(amount_null, np.nan, amount)).fill_nan(None),
        "quantity": rng.integers(0, 101, n),
        "score": rng.random(n),
        "is_vip": rng.random(n) < 0.15,
        "created_at": pl.Series(created.astype("datetime64[us]")),
        "updated_date": pl.Series(updated).cast(pl.Date),
    })


def generate(path: Path, rows: int) -> float:
    import pyarrow.parquet as pq

    start = time.perf_counter()
    writer = None
    try:
        for i, offset in enumerate(range(0, rows, ROW_GROUP)):
            chunk = make_chunk(offset, min(ROW_GROUP, rows - offset), SEED + i).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, chunk.schema, compression="zstd")
            writer.write_table(chunk, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
    return time.perf_counter() - start


# --- Presidio, configured like the engine ---------------------------------------------------------


def presidio_recognizers() -> list[Any]:
    import re

    import numpy as np
    import polars as pl
    from presidio_analyzer import Pattern, PatternRecognizer

    from gaodi.engines.dataquality import sensitive as s
    from gaodi.engines.dataquality.checksums import (
        char_matrix,
        luhn_ok,
        resident_id_check_ok,
        resident_id_structure_ok,
        uscc_check_ok,
    )
    from gaodi.engines.dataquality.synthetic import MOBILE_SEGMENTS

    segments = set(MOBILE_SEGMENTS)
    uscc_shape = re.compile(s.USCC_SHAPE)
    id_shape = re.compile(s.ID_SHAPE)

    def codes(text: str) -> Any:
        return char_matrix(pl.Series([text]), len(text))

    # Scalar validation, one match at a time, the way Presidio works; same rules as the engine.
    def id_structured(t: str) -> bool:
        return bool(id_shape.match(t)) and bool(resident_id_structure_ok(codes(t), latest=TODAY)[0])

    def is_id(t: str) -> bool:
        return len(t) == 18 and id_structured(t) and bool(resident_id_check_ok(codes(t))[0])

    def is_mobile(t: str) -> bool:
        number = t[-11:] if len(t) == 13 and t.startswith("86") else t
        return (len(t) == 11 or (len(t) == 13 and t.startswith("86"))) and number[1] in "3456789" and \
            number[0] == "1" and number[:3] in segments

    def is_card(t: str) -> bool:
        if not 16 <= len(t) <= 19 or not t.isdigit():
            return False
        if len(t) == 18 and (id_structured(t) or bool(uscc_check_ok(codes(t))[0])):
            return False
        return bool(luhn_ok(codes(t))[0])

    def is_uscc(t: str) -> bool:
        if len(t) != 18 or not uscc_shape.match(t):
            return False
        if id_shape.match(t) and id_structured(t):
            return False
        return bool(uscc_check_ok(codes(t))[0])

    def is_ipv4(t: str) -> bool:
        return all(int(p) <= 255 for p in t.split("."))

    def is_ipv6(t: str) -> bool:
        return len([g for g in t.split(":") if g]) >= 3

    class Checked(PatternRecognizer):  # type: ignore[misc]
        def __init__(self, entity: str, regex: str, check: Any) -> None:
            super().__init__(supported_entity=entity, patterns=[Pattern(entity, regex, 0.5)], global_regex_flags=0,
                             supported_language="zh")
            self.check = check

        def validate_result(self, pattern_text: str) -> bool | None:
            return bool(self.check(pattern_text)) if self.check else None

    _ = np  # numpy is used through the engine's checks
    return [
        Checked("RESIDENT_ID", s.DIGIT_RUN, is_id),
        Checked("MOBILE", s.DIGIT_RUN, is_mobile),
        Checked("BANK_CARD", s.DIGIT_RUN, is_card),
        Checked("USCC", s.CODE_RUN, is_uscc),
        Checked("EMAIL", s.EMAIL, None),
        Checked("IPV4", s.IPV4, is_ipv4),
        Checked("IPV6", s.IPV6, is_ipv6),
        Checked("LICENSE_PLATE", s.LICENSE_PLATE, None),
    ]


# --- phases, each in its own process -------------------------------------------------------------


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address space, unlike
    ru_maxrss, which Linux carries over from the parent at fork and exec."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(name: str, args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    from gaodi.engines.dataquality import parse_config, profile_file, profile_frame, scan_file, scan_frame

    path = Path(args.input)
    out: dict[str, Any] = {"phase": name}
    if name == "generate":
        start, cpu = time.perf_counter(), time.process_time()
        generate(path, args.sample)
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=args.sample)
    elif name == "engine-profile":
        start, cpu = time.perf_counter(), time.process_time()
        profile = profile_file(path, parse_config(RULES))
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=profile.rows, score=profile.score,
                   dimensions={k: d.ratio for k, d in profile.dimensions.items()},
                   duplicate_keys=profile.duplicate_keys)
    elif name == "engine-scan":
        start, cpu = time.perf_counter(), time.process_time()
        result = scan_file(path, today=TODAY)
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=result.rows, counts=result.counts_by_entity(),
                   valid=result.counts_by_entity(valid_only=True))
    elif name == "engine-profile-sample":
        frame = pl.scan_parquet(path).head(args.sample).collect()
        start, cpu = time.perf_counter(), time.process_time()
        profile_frame(frame, parse_config(RULES))
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=frame.height)
    elif name == "ydata":
        import importlib.metadata
        import types
        import warnings

        # ydata-profiling 4.x still imports pkg_resources, which current setuptools no longer ships:
        # give it the one function it uses.
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda n: types.SimpleNamespace(version=importlib.metadata.version(n))  # type: ignore[attr-defined]
        sys.modules.setdefault("pkg_resources", shim)
        warnings.filterwarnings("ignore")
        from ydata_profiling import ProfileReport

        frame = pl.scan_parquet(path).head(args.sample).collect().to_pandas()
        start, cpu = time.perf_counter(), time.process_time()
        description = ProfileReport(frame, minimal=True, progress_bar=False).get_description()
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=len(frame),
                   variables=len(description.variables))
    elif name == "presidio":
        frame = pl.scan_parquet(path).head(args.sample).collect()
        texts = _texts(frame)
        recognizers = presidio_recognizers()
        counts: dict[str, int] = {}
        values = 0
        start, cpu = time.perf_counter(), time.process_time()
        for column in texts:
            for text in column:
                if text is None:
                    continue
                values += 1
                for r in recognizers:
                    entity = r.supported_entities[0]
                    found = r.analyze(text, [entity], None)
                    if found:
                        counts[entity] = counts.get(entity, 0) + len(found)
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=frame.height, values=values,
                   valid=dict(sorted(counts.items())))
    elif name == "engine-scan-sample":
        frame = pl.scan_parquet(path).head(args.sample).collect()
        start, cpu = time.perf_counter(), time.process_time()
        result = scan_frame(frame, today=TODAY)
        out.update(seconds=time.perf_counter() - start, cpu_s=time.process_time() - cpu, rows=frame.height,
                   valid=result.counts_by_entity(valid_only=True))
    out["peak_mb"] = _peak_mb()
    return out


def _texts(frame: Any) -> list[list[str | None]]:
    """The text of every column the engine scans, as the engine sees it."""
    from gaodi.engines.dataquality.sensitive import _as_text

    out = []
    for name in frame.columns:
        text, _ = _as_text(frame[name])
        if text is not None:
            out.append(text.to_list())
    return out


def run_phase(name: str, data: Path, sample: int = 0) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--input", str(data), "--sample", str(sample)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpus = os.cpu_count() or 0
    mem = ""
    try:
        with open("/proc/meminfo") as handle:
            kb = int(handle.readline().split()[1])
            mem = f", {kb / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip() + ", "
                    break
    except OSError:
        pass
    return f"{model}{cpus} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def versions() -> dict[str, str]:
    import importlib.metadata

    out = {}
    for name in ("polars", "pyarrow", "numpy", "ydata-profiling", "pandas", "presidio-analyzer"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--peer-rows", type=int, default=200_000, help="rows given to ydata-profiling")
    parser.add_argument("--presidio-rows", type=int, default=20_000, help="rows given to Presidio")
    parser.add_argument("--dir", help="keep the generated Parquet file here and reuse it")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args), default=str))
        return

    missing = [m for m in ("ydata_profiling", "presidio_analyzer") if not _importable(m)]
    if missing:
        raise SystemExit(f"missing peers {', '.join(missing)}: run `uv sync --group bench` first")
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gaodi-dq-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"table-{args.rows}.parquet"
    total_start = time.perf_counter()
    try:
        report: dict[str, Any] = {"date": datetime.now().isoformat(timespec="seconds"), "machine": machine(),
                                  "versions": versions(), "rows": args.rows, "columns": 20,
                                  "load_before": os.getloadavg()}
        if data.exists():
            report["generate_s"] = None
        else:
            print(f"generating {args.rows:,} rows × 20 columns …", file=sys.stderr)
            report["generate_s"] = run_phase("generate", data, args.rows)["seconds"]
        report["file_mb"] = data.stat().st_size / 2**20
        print("engine: profile …", file=sys.stderr)
        report["engine_profile"] = run_phase("engine-profile", data)
        print("engine: scan …", file=sys.stderr)
        report["engine_scan"] = run_phase("engine-scan", data)
        half = max(1, args.peer_rows // 2)
        print(f"ydata-profiling (minimal) on {half:,} and {args.peer_rows:,} rows …", file=sys.stderr)
        report["ydata_half"] = run_phase("ydata", data, half)
        report["ydata"] = run_phase("ydata", data, args.peer_rows)
        report["engine_profile_sample"] = run_phase("engine-profile-sample", data, args.peer_rows)
        print(f"Presidio on {args.presidio_rows:,} rows …", file=sys.stderr)
        report["presidio"] = run_phase("presidio", data, args.presidio_rows)
        report["engine_scan_sample"] = run_phase("engine-scan-sample", data, args.presidio_rows)
    finally:
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
    report["total_s"] = time.perf_counter() - total_start
    report["load_after"] = os.getloadavg()
    summarise(report)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        print_report(report)
    if report["findings_equal"] is False:
        raise SystemExit("FAIL: Presidio and the engine found different counts on the same rows")


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def summarise(r: dict[str, Any]) -> None:
    rows = r["rows"]
    yd, yd_half = r["ydata"], r["ydata_half"]
    r["ydata_growth"] = (yd["seconds"] / yd_half["seconds"]) if yd_half["seconds"] else None
    r["ydata_full_s_linear"] = yd["seconds"] * rows / yd["rows"]
    r["profile_ratio_same_rows"] = yd["seconds"] / r["engine_profile_sample"]["seconds"]
    r["profile_ratio_full"] = r["ydata_full_s_linear"] / r["engine_profile"]["seconds"]
    pr = r["presidio"]
    r["presidio_full_s_linear"] = pr["seconds"] * rows / pr["rows"]
    r["scan_ratio_same_rows"] = pr["seconds"] / r["engine_scan_sample"]["seconds"]
    r["scan_ratio_full"] = r["presidio_full_s_linear"] / r["engine_scan"]["seconds"]
    r["findings_equal"] = pr["valid"] == r["engine_scan_sample"]["valid"]


def print_report(r: dict[str, Any]) -> None:
    rows = r["rows"]
    p, s = r["engine_profile"], r["engine_scan"]
    y, yh, ps = r["ydata"], r["ydata_half"], r["engine_profile_sample"]
    pr, ss = r["presidio"], r["engine_scan_sample"]
    gen = f"{r['generate_s']:.0f} s" if r["generate_s"] else "reused"
    print(f"data quality benchmark, {r['date']}\nmachine: {r['machine']}\nversions: {r['versions']}")
    print(f"table: {rows:,} rows × 20 columns, Parquet {r['file_mb']:.0f} MiB (generated: {gen})\n")
    print(f"{'step':<52}{'rows':>12}{'seconds':>10}{'CPU s':>9}{'peak MB':>10}")
    lines = [
        ("engine profile (whole file, streaming)", p),
        ("engine scan (whole file, streaming)", s),
        ("ydata-profiling minimal", yh),
        ("ydata-profiling minimal", y),
        ("engine profile, same rows (in memory)", ps),
        ("Presidio PatternRecognizers (analyze per value)", pr),
        ("engine scan, same rows (in memory)", ss),
    ]
    for label, d in lines:
        print(f"{label:<52}{d['rows']:>12,}{d['seconds']:>10.2f}{d['cpu_s']:>9.1f}{d['peak_mb']:>10.0f}")
    print()
    print(f"profile vs ydata-profiling: {r['profile_ratio_same_rows']:.0f}× on the same {y['rows']:,} rows; "
          f"{r['profile_ratio_full']:.0f}× on {rows:,} rows (ydata extrapolated linearly to "
          f"{r['ydata_full_s_linear']:.0f} s; it took {r['ydata_growth']:.2f}× as long for 2× the rows)")
    print(f"scan vs Presidio: {r['scan_ratio_same_rows']:.0f}× on the same {pr['rows']:,} rows "
          f"({pr['values']:,} values); {r['scan_ratio_full']:.0f}× on {rows:,} rows (Presidio extrapolated "
          f"linearly to {r['presidio_full_s_linear']:.0f} s)")
    print(f"findings on the same rows: Presidio {pr['valid']}\n                           engine   {ss['valid']}"
          f"  -> {'EQUAL' if r['findings_equal'] else 'DIFFERENT'}")
    print(f"engine on the whole file: profile score {p['score']:.4f}, dimensions "
          + ", ".join(f"{k} {v:.4f}" if v is not None else f"{k} —" for k, v in p["dimensions"].items()))
    print(f"engine scan counts (all confidence): {s['counts']}")
    print(f"total bench time {r['total_s']:.0f} s; load average (1, 5, 15 min) before "
          f"{', '.join(f'{x:.1f}' for x in r['load_before'])}, after {', '.join(f'{x:.1f}' for x in r['load_after'])}")


if __name__ == "__main__":
    main()
