"""CSV, Excel and JSON exports of published lists (DESIGN: every published object is exportable)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from openpyxl import Workbook

FORMATS = ("csv", "xlsx", "json")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    # A published text starting with "=" must not become a live formula in someone's spreadsheet.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def export(rows: Iterable[dict], columns: Sequence[tuple[str, str]], fmt: str, filename: str,
           meta: dict | None = None) -> HttpResponse:
    """columns: (key, header). Raises ValueError on an unknown format."""
    rows = list(rows)
    if fmt == "csv":
        buf = io.StringIO()
        buf.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        writer = csv.writer(buf)
        writer.writerow([h for _, h in columns])
        for row in rows:
            writer.writerow([_cell(row.get(k)) for k, _ in columns])
        response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("data")
        ws.append([h for _, h in columns])
        for row in rows:
            ws.append([_cell(row.get(k)) for k, _ in columns])
        out = io.BytesIO()
        wb.save(out)
        response = HttpResponse(
            out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    elif fmt == "json":
        body = {**(meta or {}), "items": [{k: row.get(k) for k, _ in columns} for row in rows]}
        response = HttpResponse(json.dumps(body, ensure_ascii=False, indent=1, default=str),
                                content_type="application/json; charset=utf-8")
    else:
        raise ValueError(fmt)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
