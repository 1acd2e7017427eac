"""Job traces in the CSV layout ``job_id,submission_time,duration,num_gpu``, and the simulated workload.

A trace says when each job was submitted, how long it really ran (seconds) and how many accelerators
it held. Real traces carry no cluster size, no tenant and no user estimate, so :func:`make_workload`
adds them by documented, seeded rules:

- **Tenants**: each job goes to one of ``tenants`` (default 50) tenants drawn from a Zipf law over
  the tenant ranks (P(rank r) proportional to r^-``zipf_s``, default s = 1.0; rank 1 gets about 22% of
  the jobs with 50 tenants). Which tenants are SMEs is a seeded random choice of
  ``round(sme_share × tenants)`` of them (default 60%, i.e. 30 of 50), independent of rank.
- **User estimates** (the time limit a user would type): ``estimate = max(1 s, duration × f)`` where
  ``f`` is lognormal with median ``estimate_median`` (default 1.5: users pad their limits) and log
  standard deviation ``estimate_sigma`` (default 0.6). About 25% of estimates therefore fall *below*
  the true duration. Schedulers only ever see the estimate; the simulator runs the true duration (a
  job that outruns its estimate keeps running, it is not killed).
- **Capacity** (:func:`size_capacity`): the smallest integer C with offered load / C ≤ 90%, where the
  offered load is the accelerator-seconds of all jobs divided by the submission window (first to last
  submission), and never below the largest job's accelerator count.

All three use one ``numpy.random.Generator(PCG64(seed))`` stream in a fixed order, so the same seed
gives the same workload on every machine.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gaodi.engines.compute.errors import TraceError

COLUMNS = ("job_id", "submission_time", "duration", "num_gpu")
MAX_TRACE_BYTES = 256 * 1024 * 1024
MAX_JOB_GPUS = 100_000
MAX_DURATION_S = 365 * 24 * 3600.0
_ENCODINGS = ("utf-8-sig", "gb18030")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Trace:
    """Jobs sorted by submission time (stable): ids, submission (s), true duration (s), accelerators."""

    name: str
    job_ids: tuple[str, ...]
    submit: FloatArray
    duration: FloatArray
    gpus: IntArray

    def __len__(self) -> int:
        return len(self.job_ids)

    @property
    def work(self) -> float:
        """Accelerator-seconds of all jobs."""
        return float(np.dot(self.duration, self.gpus.astype(np.float64)))

    @property
    def window(self) -> float:
        """Seconds from the first to the last submission (at least 1 s)."""
        if len(self) == 0:
            return 1.0
        return max(1.0, float(self.submit[-1] - self.submit[0]))


def _decode(data: bytes, where: str) -> str:
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TraceError("file", "is neither UTF-8 nor GB18030 text", "save the CSV as UTF-8", where=where)


def load_trace(path: str | Path, *, name: str | None = None) -> Trace:
    """Read a trace CSV (UTF-8, or GBK/GB18030). Raises :class:`TraceError` naming the line and column."""
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise TraceError("--trace", f"no such file {where!r}", "give the path of a CSV file", where=where)
    if p.stat().st_size > MAX_TRACE_BYTES:
        raise TraceError("file", f"is larger than {MAX_TRACE_BYTES // 2**20} MiB", "split the trace", where=where)
    text = _decode(p.read_bytes(), where)
    return parse_trace(text, name=name or p.stem, where=where)


def parse_trace(text: str, *, name: str = "trace", where: str = "trace") -> Trace:
    """Parse CSV text with the header ``job_id,submission_time,duration,num_gpu`` (any column order)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise TraceError("header", "the file is empty", f"start with the header line {','.join(COLUMNS)}",
                         where=where)
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise TraceError(
            "header", f"missing column(s) {', '.join(missing)} (found {', '.join(names)})",
            f"the header must contain {','.join(COLUMNS)}", where=where,
        )
    col = {c: names.index(c) for c in COLUMNS}
    ids: list[str] = []
    submit: list[float] = []
    duration: list[float] = []
    gpus: list[int] = []
    width = max(col.values()) + 1
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        here = f"{where}, line {line}"
        if len(row) < width:
            raise TraceError("row", f"has {len(row)} fields, expected {len(names)}",
                             "give every column a value", where=here)
        job_id = row[col["job_id"]].strip()
        if not job_id:
            raise TraceError("job_id", "is empty", "give every job an id", where=here)
        s = _number(row[col["submission_time"]], "submission_time", here)
        d = _number(row[col["duration"]], "duration", here)
        g = _number(row[col["num_gpu"]], "num_gpu", here)
        if s < 0:
            raise TraceError("submission_time", f"is negative ({s:g})", "use seconds from the trace start", where=here)
        if d < 0:
            raise TraceError("duration", f"is negative ({d:g})", "give the run time in seconds, at least 0",
                             where=here)
        if d > MAX_DURATION_S:
            raise TraceError("duration", f"is {d:g} s, more than a year", "give the run time in seconds",
                             where=here)
        if g != int(g) or g < 1:
            raise TraceError("num_gpu", f"must be a whole number of at least 1, got {row[col['num_gpu']]!r}",
                             "give the accelerator count of the job", where=here)
        if g > MAX_JOB_GPUS:
            raise TraceError("num_gpu", f"{int(g)} accelerators is absurd", f"at most {MAX_JOB_GPUS}", where=here)
        ids.append(job_id)
        submit.append(s)
        duration.append(d)
        gpus.append(int(g))
    if not ids:
        raise TraceError("rows", "the trace has a header but no jobs", "add at least one job row", where=where)
    order = np.argsort(np.asarray(submit, dtype=np.float64), kind="stable")
    return Trace(
        name=name,
        job_ids=tuple(ids[i] for i in order),
        submit=np.asarray(submit, dtype=np.float64)[order],
        duration=np.asarray(duration, dtype=np.float64)[order],
        gpus=np.asarray(gpus, dtype=np.int64)[order],
    )


def _number(cell: str, field: str, where: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise TraceError(field, f"is not a number: {cell!r}", "write plain decimal numbers (seconds, counts)",
                         where=where) from None
    if not math.isfinite(value):
        raise TraceError(field, f"is not finite: {cell!r}", "write a finite number", where=where)
    return value


def trace_from_rows(rows: Iterable[tuple[str, float, float, int]], name: str = "trace") -> Trace:
    """Build a trace from ``(job_id, submission_time, duration, num_gpu)`` tuples (tests, notebooks)."""
    text = "job_id,submission_time,duration,num_gpu\n" + "".join(f"{j},{s!r},{d!r},{g}\n" for j, s, d, g in rows)
    return parse_trace(text, name=name, where=name)


def size_capacity(trace: Trace, target_load: float = 0.9) -> int:
    """Accelerators such that the trace's offered load is at most ``target_load`` of capacity.

    Offered load = accelerator-seconds / submission window. Never below the largest job, so every job
    fits.
    """
    if not 0 < target_load <= 1:
        raise ValueError(f"target_load must be in (0, 1], got {target_load}")
    load = trace.work / trace.window
    return max(int(trace.gpus.max()), math.ceil(load / target_load - 1e-9), 1)


@dataclass(frozen=True)
class Workload:
    """A trace plus what real traces lack: tenants, SME flags, user estimates.

    Arrays are indexed by job (in submission order); ``tenant_sme`` by tenant.
    """

    trace: Trace
    tenant: IntArray
    tenant_sme: BoolArray
    estimate: FloatArray
    seed: int
    n_tenants: int

    @property
    def sme(self) -> BoolArray:
        """Per job: whether its tenant is an SME."""
        return self.tenant_sme[self.tenant]


def zipf_weights(n: int, s: float) -> FloatArray:
    ranks = np.arange(1, n + 1, dtype=np.float64)
    w: FloatArray = np.power(ranks, -s)
    out: FloatArray = w / float(w.sum())
    return out


def make_workload(
    trace: Trace,
    *,
    seed: int = 0,
    tenants: int = 50,
    sme_share: float = 0.6,
    zipf_s: float = 1.0,
    estimate_median: float = 1.5,
    estimate_sigma: float = 0.6,
) -> Workload:
    """Assign tenants, SME flags and user estimates by the seeded rules in the module docstring."""
    if tenants < 1:
        raise ValueError(f"tenants must be at least 1, got {tenants}")
    if not 0 <= sme_share <= 1:
        raise ValueError(f"sme_share must be in [0, 1], got {sme_share}")
    if estimate_median <= 0 or estimate_sigma < 0:
        raise ValueError("estimate_median must be > 0 and estimate_sigma >= 0")
    rng = np.random.Generator(np.random.PCG64(seed))
    tenant = rng.choice(tenants, size=len(trace), p=zipf_weights(tenants, zipf_s)).astype(np.int64)
    n_sme = round(sme_share * tenants)
    tenant_sme = np.zeros(tenants, dtype=np.bool_)
    tenant_sme[rng.choice(tenants, size=n_sme, replace=False)] = True
    noise = rng.lognormal(mean=math.log(estimate_median), sigma=estimate_sigma, size=len(trace))
    estimate = np.maximum(1.0, trace.duration * noise)
    return Workload(trace=trace, tenant=tenant, tenant_sme=tenant_sme, estimate=estimate, seed=seed,
                    n_tenants=tenants)
