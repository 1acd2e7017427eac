"""`gaodi data profile FILE` and `gaodi data scan FILE`: the data quality engine from the command line.

A thin wrapper over `gaodi.engines.dataquality`: no database, no system checks. Bad input ends with
one line on stderr naming the file, the line and the fix, and a non-zero exit status (1); the
progress bar (stderr) shows on files of 16 MiB or more.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gaodi.engines import dataquality as dq
from gaodi.engines.dataquality.grading import FIELDS

PROGRESS_MIN_BYTES = 16 << 20


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class Command(BaseCommand):
    help = (
        "Data quality tools. `gaodi data profile FILE [--rules rules.toml] [--json]` measures the six "
        "GB/T 36344 quality dimensions and a weighted score; `gaodi data scan FILE [--json]` finds personal "
        "and sensitive data (identity numbers, phones, credit codes, bank cards, e-mail, IPs, plates). "
        "CSV (UTF-8/GBK/GB18030), JSON Lines, Parquet and Excel; files larger than memory are streamed."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        profile = sub.add_parser("profile", help="Quality profile along the six GB/T 36344 dimensions.",
                                 description="Profile FILE: per column and per table, six dimensions and a score.")
        scan = sub.add_parser("scan", help="Find personal and sensitive data, per column, with masked samples.",
                              description="Scan FILE for identity numbers, phones, credit codes, bank cards, "
                                          "e-mail, IP addresses and licence plates.")
        for p in (profile, scan):
            p.add_argument("file", metavar="FILE", help="a .csv/.tsv, .jsonl, .parquet or .xlsx file")
            p.add_argument("--json", action="store_true", help="print the full result as JSON")
            p.add_argument("--format", choices=["csv", "jsonl", "parquet", "excel"],
                           help="the file format, if its extension does not tell")
            p.add_argument("--encoding", help="text encoding (utf-8, gbk, gb18030); default: detect")
            p.add_argument("--delimiter", help="CSV field delimiter (default , or tab for .tsv)")
            p.add_argument("--sheet", help="Excel sheet name or number (1 = first; default first)")
            p.add_argument("--skip-bad-rows", action="store_true",
                           help="skip and count ragged CSV rows and invalid JSON lines instead of stopping")
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
        profile.add_argument("--rules", metavar="RULES.toml", help="declared rules, column patterns, key, weights")
        profile.add_argument("--as-of", help="reference date for timeliness (YYYY-MM-DD; default now)")
        scan.add_argument("--field", choices=sorted(FIELDS), help="declared field: add a grading suggestion")
        scan.add_argument("--deidentified", action="store_true", help="for the grading suggestion: data is de-identified")
        scan.add_argument("--consent", action="store_true", help="for the grading suggestion: people consented")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        try:
            if subcommand == "profile":
                self.profile(options)
            else:
                self.scan(options)
        except dq.DataQualityError as exc:
            raise CommandError(str(exc), returncode=1) from None
        except OSError as exc:
            raise CommandError(f"{exc.filename or options['file']}: {exc.strerror or exc}", returncode=1) from None
        except MemoryError:
            raise CommandError(f"{options['file']}: out of memory", returncode=1) from None

    # -- helpers

    def _read_options(self, options: dict[str, Any]) -> dq.ReadOptions:
        sheet: str | int = 0
        if options.get("sheet"):
            raw = options["sheet"]
            sheet = int(raw) - 1 if raw.isdigit() else raw
        return dq.ReadOptions(
            format=options.get("format"), encoding=options.get("encoding"), delimiter=options.get("delimiter"),
            on_bad_row="skip" if options.get("skip_bad_rows") else "error", sheet=sheet,
        )

    def _progress(self, path: Path, options: dict[str, Any]) -> tuple[Any, Any]:
        if options.get("no_progress") or not path.is_file() or path.stat().st_size < PROGRESS_MIN_BYTES:
            return None, None
        from tqdm import tqdm

        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                   desc=path.name, leave=False)
        return bar, bar.update

    def _emit_json(self, data: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))

    # -- profile

    def profile(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        config = dq.load_config(options["rules"]) if options.get("rules") else None
        as_of = None
        if options.get("as_of"):
            try:
                as_of = datetime.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of {options['as_of']!r} is not a date (YYYY-MM-DD)", returncode=2) from None
        bar, progress = self._progress(path, options)
        try:
            result = dq.profile_file(path, config, options=self._read_options(options), as_of=as_of, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        if options["json"]:
            self._emit_json(result.to_dict())
            return
        read = result.read
        head = f"{result.source}: {result.format}"
        if read and read.encoding:
            head += f", {read.encoding}"
        head += f", {result.rows:,} rows, {len(result.columns)} columns; score {_fmt(result.score)}"
        out = [head, "", f"{'dimension':<22}{'ratio':>8}{'weight':>8}  checks"]
        for d in result.dimensions.values():
            label = f"{d.name_zh} {d.key}"
            out.append(f"{label:<22}{_fmt(d.ratio):>8}{d.weight:>8g}  {len(d.checks)}")
        out += ["", f"{'column':<24}{'type':<14}{'missing':>9}{'distinct':>11}  pattern / range"]
        for c in result.columns:
            distinct = _fmt(c.distinct) + ("" if c.distinct_exact else "~")
            note = ""
            if c.pattern_checked:
                note = f"{c.pattern_name or 'declared'} {c.pattern_matched:,}/{c.pattern_checked:,}"
                if c.checksum_checked:
                    note += f", check digit {c.checksum_passed:,}/{c.checksum_checked:,}"
            elif c.min is not None:
                note = f"{_fmt(c.min)} .. {_fmt(c.max)}"
            if c.type_violations:
                note += f" ({c.type_violations} values not {c.dtype}, e.g. {c.type_violation_samples[:2]})"
            out.append(f"{c.name[:23]:<24}{c.dtype[:13]:<14}{_fmt(c.missing):>9}{distinct:>11}  {note}")
        if result.rules:
            out += ["", "rules:"]
            for r in result.rules:
                rows = f" (rows {', '.join(map(str, r.failing_rows))})" if r.failing_rows else ""
                out.append(f"  {r.name} [{r.dimension}]: {r.passed:,} pass, {r.failed:,} fail{rows}")
        out.append("")
        out.append(f"duplicate rows: {result.duplicate_rows:,}")
        if result.key:
            out.append(f"key {', '.join(result.key)}: {result.duplicate_keys:,} repeated, {result.incomplete_keys:,} incomplete")
        if read and read.bad_rows:
            lines = ", ".join(str(b.line) for b in read.bad_row_samples)
            out.append(f"bad rows skipped: {read.bad_rows:,} (lines {lines}{', …' if read.bad_rows > 10 else ''})")
        if read and read.formula_cells_without_value:
            out.append(f"formula cells saved without a value: {read.formula_cells_without_value:,} "
                       "(open and save the file in Excel or WPS to store them)")
        self.stdout.write("\n".join(out))

    # -- scan

    def scan(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        bar, progress = self._progress(path, options)
        try:
            result = dq.scan_file(path, options=self._read_options(options), progress=progress)
        finally:
            if bar is not None:
                bar.close()
        suggestion = None
        if options.get("field"):
            suggestion = dq.suggest_grading(result, options["field"], deidentified=options["deidentified"],
                                            consent=options["consent"])
        if options["json"]:
            data = result.to_dict()
            if suggestion is not None:
                data["grading_suggestion"] = suggestion.to_dict()
            self._emit_json(data)
            return
        out = [f"{result.source}: {result.rows:,} rows, {len(result.columns_scanned)} columns scanned"]
        if result.findings:
            out += ["", f"{'column':<20}{'entity':<15}{'matches':>9}{'valid':>9}{'bad check':>10}{'conf.':>7}  samples"]
            for f in result.findings:
                out.append(f"{f.column[:19]:<20}{f.entity.value:<15}{f.count:>9,}{f.valid:>9,}{f.checksum_failed:>10,}"
                           f"{f.confidence:>7.2f}  {', '.join(f.samples)}")
        else:
            out.append("no personal or sensitive data found")
        for name, why in result.columns_skipped.items():
            out.append(f"not scanned: {name} ({why})")
        if suggestion is not None:
            out += ["", f"suggestion (a person decides): {suggestion.level_zh} {suggestion.level.value}, "
                        f"{suggestion.open_type_zh} {suggestion.open_type.value}"]
            out += [f"  {r.rule}: {r.text_zh} / {r.text_en}" for r in suggestion.reasons]
        self.stdout.write("\n".join(out))
