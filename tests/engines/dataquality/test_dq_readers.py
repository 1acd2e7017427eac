"""Streaming readers and bad input: encodings, ragged rows, quotes, JSON Lines, Parquet, Excel, bombs."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import polars as pl
import pytest
from test_dq_support import build_xlsx

from gaodi.engines.dataquality import (
    BadRowError,
    DataQualityError,
    EncodingError,
    FileTooLargeError,
    ReadOptions,
    UnsupportedFormatError,
    ZipBombError,
    open_table,
    profile_file,
)

CSV = "id,name,city\n1,张三,上海\n2,李四,北京\n3,王五,\"广州,天河\"\n"


def read_all(path: Path, **options) -> tuple[pl.DataFrame, object]:
    reader = open_table(path, ReadOptions(**options))
    frames = list(reader.batches())
    return pl.concat(frames) if frames else pl.DataFrame(), reader.stats


@pytest.mark.parametrize("encoding, label", [("utf-8", "UTF-8"), ("gbk", "GB18030"), ("gb18030", "GB18030"),
                                             ("utf-8-sig", "UTF-8")])
def test_csv_encodings_are_detected_and_transcoded(tmp_path, encoding, label):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV.encode(encoding))
    frame, stats = read_all(path, chunk_bytes=1024)
    assert stats.encoding == label
    assert frame.columns == ["id", "name", "city"]
    assert frame["name"].to_list() == ["张三", "李四", "王五"]
    assert frame["city"].to_list()[-1] == "广州,天河"


def test_gb18030_four_byte_characters(tmp_path):
    path = tmp_path / "t.csv"
    text = "name\n𠀀家\n𡃁\n"  # CJK Extension B: four-byte sequences in GB18030, not in GBK
    path.write_bytes(text.encode("gb18030"))
    frame, stats = read_all(path)
    assert stats.encoding == "GB18030" and frame["name"].to_list() == ["𠀀家", "𡃁"]


def test_declared_encoding_is_used(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV.encode("gbk"))
    frame, _ = read_all(path, encoding="GBK")
    assert frame["name"][0] == "张三"
    with pytest.raises(EncodingError, match="line 2: bytes that are not valid UTF-8"):
        read_all(path, encoding="utf-8")
    with pytest.raises(EncodingError, match="not supported"):
        read_all(path, encoding="latin-9")


def test_mixed_encodings_report_the_line(tmp_path):
    lines = ["id,name"] + [f"{i},张{i}" for i in range(1, 2000)]
    utf8_first = tmp_path / "a.csv"
    utf8_first.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + "2000,李四\n".encode("gbk"))
    with pytest.raises(EncodingError) as err:
        read_all(utf8_first, chunk_bytes=4096)
    assert err.value.line == 2001 and "mixes encodings" in str(err.value) and "GBK" in str(err.value)
    gbk_first = tmp_path / "b.csv"
    gbk_first.write_bytes(("\n".join(lines) + "\n").encode("gbk") + "2000,李四\n".encode())
    with pytest.raises(EncodingError) as err:
        read_all(gbk_first, chunk_bytes=4096)
    assert err.value.line == 2001 and "mixes encodings" in str(err.value)
    # an ASCII start does not fix the encoding: the first non-ASCII line does
    late = tmp_path / "c.csv"
    late.write_bytes(("id,name\n" + "1,a\n" * 3000).encode() + "2,李四\n".encode("gbk"))
    frame, stats = read_all(late, chunk_bytes=1024)
    assert stats.encoding == "GB18030" and frame["name"][-1] == "李四"


def test_utf16_is_refused_clearly(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV.encode("utf-16"))
    with pytest.raises(EncodingError, match="UTF-16"):
        read_all(path)


def test_ragged_row_reports_line_and_counts(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,2,3\n"x\ny",5,6\n7,8\n9,10,11,12\n13,14,15\n', encoding="utf-8")
    with pytest.raises(BadRowError) as err:
        read_all(path)
    assert (err.value.line, err.value.expected, err.value.actual) == (5, 3, 2)
    assert "line 5: expected 3 fields, found 2" in str(err.value)
    frame, stats = read_all(path, on_bad_row="skip")
    assert frame["a"].to_list() == ["1", "x\ny", "13"]
    assert stats.bad_rows == 2
    assert [(b.line, b.expected, b.actual) for b in stats.bad_row_samples] == [(5, 3, 2), (6, 3, 4)]


def test_quotes_crlf_blank_lines_and_a_missing_final_newline(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'a,b\r\n"say ""hi""",2\r\n\r\n"multi\r\nline",4\r\nlast,6')
    frame, stats = read_all(path, chunk_bytes=1024)
    assert frame.rows() == [('say "hi"', "2"), ("multi\r\nline", "4"), ("last", "6")]
    assert stats.blank_lines == 1


def test_quoted_field_across_chunks(tmp_path):
    path = tmp_path / "t.csv"
    long = "长" * 3000
    path.write_text(f'a,b\n1,"{long}\n{long}"\n2,x\n', encoding="utf-8")
    frame, _ = read_all(path, chunk_bytes=1024)
    assert frame["b"].to_list() == [f"{long}\n{long}", "x"]


def test_unclosed_quote_is_reported(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n3,"oops\n4,5\n', encoding="utf-8")
    with pytest.raises(BadRowError, match="line 3: a quoted field that is never closed"):
        read_all(path)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataQualityError, match="empty"):
        read_all(empty)
    with pytest.raises(DataQualityError, match="no such file"):
        open_table(tmp_path / "nope.csv")
    odd = tmp_path / "x.bin"
    odd.write_bytes(b"\x00\x01")
    with pytest.raises(UnsupportedFormatError, match="cannot tell the format"):
        open_table(odd)


def test_tsv_and_other_delimiters(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert read_all(path)[0].rows() == [("1", "2")]
    semi = tmp_path / "s.csv"
    semi.write_text("a;b\n1;2\n", encoding="utf-8")
    assert read_all(semi, delimiter=";")[0].rows() == [("1", "2")]


def test_json_lines(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n\n{"a": 2.5, "b": "张", "c": true}\n[1, 2]\n{"a": 3,\n', encoding="utf-8")
    with pytest.raises(BadRowError, match="line 4: not a JSON object"):
        read_all(path)
    frame, stats = read_all(path, on_bad_row="skip")
    assert frame["b"].to_list() == ["x", "张"]
    assert stats.bad_rows == 2 and [b.line for b in stats.bad_row_samples] == [4, 5]


def test_json_lines_with_changing_columns_and_types(tmp_path):
    path = tmp_path / "t.jsonl"
    first = "".join(json.dumps({"a": i, "b": "x"}) + "\n" for i in range(200))
    later = "".join(json.dumps({"a": i + 0.5, "c": "late"}) + "\n" for i in range(200))
    path.write_text(first + later, encoding="utf-8")
    profile = profile_file(path, options=ReadOptions(chunk_bytes=1024))
    a, b, c = (profile.column(n) for n in "abc")
    assert a.dtype == "Float64" and a.missing == 0 and a.max == 199.5
    assert b.missing == 200 and c.missing == 200 and profile.rows == 400


def test_parquet_is_read_in_bounded_slices(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    table = pa.table({"x": list(range(10_000)), "s": [f"v{i % 7}" for i in range(10_000)]})
    pq.write_table(table, path, row_group_size=1000)
    reader = open_table(path, ReadOptions(batch_rows=500))
    seen = []
    frames = list(reader.batches(progress=seen.append))
    assert len(frames) == 20 and max(f.height for f in frames) == 500
    assert sum(seen) == path.stat().st_size
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(UnsupportedFormatError, match="not a readable Parquet"):
        list(open_table(bad).batches())


# --- Excel -----------------------------------------------------------------------------------------


def test_excel_formulas_give_cached_values_and_missing_values_are_counted(tmp_path):
    path = build_xlsx(tmp_path / "f.xlsx", [
        ["item", "price", "qty", "total"],
        ["笔", 2.5, 4, ("=B2*C2", 10)],
        ["纸", 1, 3, ("=B3*C3", None)],  # saved without a computed value
        ["墨", 7, 2, ("=B4*C4", 14)],
    ])
    frame, stats = read_all(path)
    assert frame["total"].to_list() == [10, None, 14]
    assert frame["item"].to_list() == ["笔", "纸", "墨"]
    assert (stats.formula_cells, stats.formula_cells_without_value) == (3, 1)
    profile = profile_file(path)
    check = next(c for c in profile.dimensions["accessibility"].checks if c.name == "formula values")
    assert (check.passed, check.evaluated) == (2, 3)


def test_excel_merged_cells_are_filled_with_the_top_left_value(tmp_path):
    # data starts at B3: merges must be mapped from sheet coordinates to the frame
    path = build_xlsx(tmp_path / "m.xlsx", [
        ["district", "street", "count"],
        ["浦东新区", "陆家嘴", 5],
        [None, "张江", 7],
        [None, "花木", 1],
        ["徐汇区", "天平", 3],
        ["合计", None, 16],
    ], merges=["B4:B6", "B8:C8"], first_row=3, first_col=1)
    frame, stats = read_all(path)
    assert frame["district"].to_list() == ["浦东新区", "浦东新区", "浦东新区", "徐汇区", "合计"]
    assert frame["count"].to_list() == [5, 7, 1, 3, 16]
    assert frame["street"].to_list()[-1] == "合计"
    assert stats.merged_ranges == 2


def test_excel_size_limit(tmp_path):
    path = build_xlsx(tmp_path / "big.xlsx", [["a"], *[[i] for i in range(200)]])
    with pytest.raises(FileTooLargeError, match="over the 0 MiB limit|limit for Excel"):
        read_all(path, max_excel_bytes=500)


def _patch_uncompressed_size(path: Path, member: str, size: int) -> None:
    data = bytearray(path.read_bytes())
    name = member.encode()
    start = 0
    while (i := data.find(b"PK\x01\x02", start)) >= 0:  # central directory entries
        n = struct.unpack_from("<H", data, i + 28)[0]
        if data[i + 46 : i + 46 + n] == name:
            struct.pack_into("<I", data, i + 24, size)
        start = i + 4
    start = 0
    while (i := data.find(b"PK\x03\x04", start)) >= 0:  # local headers
        n = struct.unpack_from("<H", data, i + 26)[0]
        if data[i + 30 : i + 30 + n] == name:
            struct.pack_into("<I", data, i + 22, size)
        start = i + 4
    path.write_bytes(bytes(data))


def test_zip_bomb_with_a_huge_declared_size_is_refused_before_decompressing(tmp_path):
    path = build_xlsx(tmp_path / "bomb.xlsx", [["a"], [1]])
    _patch_uncompressed_size(path, "xl/worksheets/sheet1.xml", 0xFFFFFFF0)
    with pytest.raises(ZipBombError, match=r"zip bomb: its parts declare 4,29\d,\d{3},\d{3} bytes"):
        read_all(path)


def test_zip_bomb_by_compression_ratio(tmp_path):
    path = tmp_path / "ratio.xlsx"
    build_xlsx(path, [["a"], [1]])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.xml", b" " * (40 << 20))  # 40 MiB of spaces, about 40 KiB compressed
    with pytest.raises(ZipBombError, match="would expand"):
        read_all(path)


def test_zip_that_lies_about_its_sizes_is_caught_while_streaming(tmp_path):
    path = tmp_path / "liar.xlsx"
    build_xlsx(path, [["a"], [1]])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.xml", b"<x/>" * (1 << 20))
    _patch_uncompressed_size(path, "xl/padding.xml", 1000)
    with pytest.raises(ZipBombError, match="damaged or manipulated"):
        read_all(path)


def test_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(UnsupportedFormatError, match="not an Excel file"):
        read_all(path)


# --- bounded memory -----------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, resource, sys
    from gaodi.engines.dataquality import ReadOptions, ProfileConfig, profile_file, scan_file
    path = sys.argv[1]
    options = ReadOptions(chunk_bytes=64 << 10)
    profile = profile_file(path, ProfileConfig(key=("id",), exact_distinct_limit=2000), options=options,
                           hash_memory_items=20_000)
    scan = scan_file(path, options=options)
    print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "rows": profile.rows,
                      "dups": profile.duplicate_rows, "mobiles": scan.counts_by_entity().get("MOBILE", 0)}))
""")


def _write_csv(path: Path, rows: int) -> None:
    import numpy as np

    from gaodi.engines.dataquality import synthetic

    rng = np.random.default_rng(rows)
    frame = pl.DataFrame({
        "id": np.arange(rows), "phone": synthetic.mobiles(rows, rng), "name": synthetic.chinese_names(rows, rng),
        "amount": rng.normal(100, 20, rows).round(2), "note": pl.Series(["备注文本" * 3] * rows),
    })
    frame.vstack(frame.head(10)).write_csv(path)  # 10 duplicate rows


def test_memory_stays_bounded_as_the_file_grows(tmp_path):
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _write_csv(small, 40_000)
    _write_csv(large, 320_000)
    assert large.stat().st_size > 7 * small.stat().st_size
    results = []
    for path in (small, large):
        out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout))
    assert results[1]["rows"] == 320_010 and results[1]["dups"] == 10 and results[1]["mobiles"] == 320_010
    growth_mb = (results[1]["rss_kb"] - results[0]["rss_kb"]) / 1024
    extra_file_mb = (large.stat().st_size - small.stat().st_size) / 2**20
    # Reading the file whole would grow memory by at least the extra file size (it grows several times that).
    print(f"peak RSS {results[0]['rss_kb'] / 1024:.0f} MB -> {results[1]['rss_kb'] / 1024:.0f} MB "
          f"for {extra_file_mb:.0f} MB more file")
    assert growth_mb < 0.35 * extra_file_mb, (growth_mb, extra_file_mb, results)
