"""Bad input through the publisher's pages (issue: "each gets a clear error and loses nothing"): a CSV
with mixed encodings, a ragged row, a file over the size limit (refused while it streams in), an Excel
workbook with formulas and merged cells, a zip bomb. A grant used after expiry is in
test_data_app_access.py."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from xml.sax.saxutils import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

from gaodi.apps.data import actions
from gaodi.apps.data.forms import DatasetForm, check_data_file
from gaodi.apps.data.models import QualityState, Resource, ResourceVersion

GOOD = "编号,城市,数值\n1,上海,3.5\n2,北京,4.0\n".encode()


@pytest.fixture
def open_dataset(world):
    return actions.create_dataset(world.paul, world.cyber, DatasetForm(data={
        "title": "公共气象观测数据", "title_en": "Weather", "description": "逐日观测。", "theme": "general",
        "licence": "CC BY 4.0", "update_frequency": "daily", "spatial": "上海市", "open_type": "unconditional",
        "security_level": "general", "conditions": ""}))


def upload_resource(client, dataset, name, content):
    return client.post(f"/data/datasets/{dataset.pk}/resources/new/",
                       {"name": "观测表", "kind": "file", "file": SimpleUploadedFile(name, content)})


def upload_version(client, resource, name, content):
    return client.post(f"/data/resources/{resource.pk}/versions/new/", {"file": SimpleUploadedFile(name, content)})


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def workbook(rows, merges=()) -> bytes:
    """A minimal .xlsx; a cell given as ("=formula", cached) is a formula with the value Excel saved."""
    body = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_col(c)}{r}"
            if isinstance(value, tuple):
                formula, cached = value
                v = "" if cached is None else f"<v>{cached}</v>"
                cells.append(f'<c r="{ref}"><f>{escape(formula[1:])}</f>{v}</c>')
            elif isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif value is not None:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    merge = (f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges)
             + "</mergeCells>") if merges else ""
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{ns}/spreadsheetml/2006/main" '
        f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{ns}/package/2006/relationships"><Relationship '
        f'Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{"".join(body)}'
        f"</sheetData>{merge}</worksheet>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text)
    return out.getvalue()


def with_part(xlsx: bytes, name: str, data: bytes, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO(xlsx)
    with zipfile.ZipFile(out, "a", compression) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def declare_size(xlsx: bytes, member: str, size: int) -> bytes:
    """Make the zip lie about a part's uncompressed size (central directory and local header)."""
    data = bytearray(xlsx)
    for sig, name_len_at, size_at, name_at in ((b"PK\x01\x02", 28, 24, 46), (b"PK\x03\x04", 26, 22, 30)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            n = struct.unpack_from("<H", data, i + name_len_at)[0]
            if data[i + name_at:i + name_at + n] == member.encode():
                struct.pack_into("<I", data, i + size_at, size)
            start = i + 4
    return bytes(data)


def test_csv_with_mixed_encodings_is_refused_naming_the_line_and_loses_nothing(client, world, open_dataset):
    client.force_login(world.paul)
    assert upload_resource(client, open_dataset, "weather.csv", GOOD).status_code == 302
    resource = Resource.objects.get()
    good = actions.run_quality_report(resource.latest.pk)
    # mixed within the first 64 KiB: refused at upload, the line named, nothing stored
    mixed = "编号,城市,数值\n1,上海,3.5\n".encode() + "2,北京,4.0\n".encode("gbk")
    response = upload_version(client, resource, "weather-v2.csv", mixed)
    text = response.content.decode()
    assert response.status_code == 200 and "文件编码有误" in text
    assert "weather-v2.csv: line 3:" in text and "mixes encodings" in text
    assert resource.versions.count() == 1
    # mixed further down: stored, and its quality report fails naming the line (the engine streams it)
    rows = "".join(f"{i},上海,{i}.5\n" for i in range(1, 6000)).encode()
    late = "编号,城市,数值\n".encode() + rows + "6000,北京,1.0\n".encode("gbk")
    assert len(late) > 64 * 1024
    assert upload_version(client, resource, "weather-v3.csv", late).status_code == 302
    bad = actions.run_quality_report(resource.latest.pk)
    assert bad.quality_state == QualityState.FAILED
    assert bad.quality_error.startswith("weather-v3.csv: line 6001:") and "mixes encodings" in bad.quality_error
    page = client.get(f"/data/datasets/{open_dataset.pk}/").content.decode()
    assert "weather-v3.csv: line 6001:" in page and str(bad.file.path) not in page
    # nothing lost: the earlier version and its report stand; the new file is kept byte for byte
    good.refresh_from_db()
    assert good.quality_state == QualityState.DONE and good.quality_score is not None
    assert bad.sha256 == hashlib.sha256(late).hexdigest() and bad.file.read() == late
    client.logout()
    download = client.get(f"/data/resources/{resource.pk}/download/")
    assert b"".join(download.streaming_content) == late


def test_ragged_row_fails_with_expected_and_found_field_counts(client, world, open_dataset):
    client.force_login(world.paul)
    ragged = "编号,城市,数值\n1,上海,3.5\n2,北京\n3,广州,1.0\n".encode()
    assert upload_resource(client, open_dataset, "ragged.csv", ragged).status_code == 302
    version = actions.run_quality_report(ResourceVersion.objects.get().pk)
    assert version.quality_state == QualityState.FAILED
    assert "line 3: expected 3 fields, found 2" in version.quality_error
    assert version.quality_profile is None and version.file.read() == ragged
    # the publisher fixes the file and uploads it as a new version; the failed one stays in the history
    assert upload_version(client, version.resource, "fixed.csv", GOOD).status_code == 302
    fixed = actions.run_quality_report(version.resource.latest.pk)
    assert fixed.number == 2 and fixed.quality_state == QualityState.DONE
    assert version.resource.versions.count() == 2


def test_file_over_the_limit_is_refused_while_it_streams_in(client, world, open_dataset, settings, monkeypatch):
    limit = 64 * 1024
    settings.GAODI_DATA_MAX_UPLOAD_BYTES = limit
    stored = {"bytes": 0}
    for handler in (TemporaryFileUploadHandler, MemoryFileUploadHandler):
        original = handler.receive_data_chunk

        def counting(self, raw_data, start, _original=original):
            stored["bytes"] += len(raw_data) if getattr(self, "activated", True) else 0
            return _original(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    big = b"a,b\n" + b"1,2\n" * (3 * 1024 * 1024 // 4)  # 3 MiB
    client.force_login(world.paul)
    response = upload_resource(client, open_dataset, "huge.csv", big)
    assert response.status_code == 200
    text = response.content.decode().replace("\xa0", " ")
    assert "huge.csv" in text and "超过上限 64.0 KB" in text and "已停止接收" in text
    # the storing handlers saw at most the limit plus one chunk, never the 3 MiB
    assert stored["bytes"] <= limit + 64 * 1024
    assert Resource.objects.count() == 0 and ResourceVersion.objects.count() == 0
    # the same file under a larger limit goes through (the refusal was the size, nothing else)
    settings.GAODI_DATA_MAX_UPLOAD_BYTES = 8 * 1024 * 1024
    assert upload_resource(client, open_dataset, "huge.csv", big).status_code == 302
    # the version page refuses the same way
    settings.GAODI_DATA_MAX_UPLOAD_BYTES = limit
    response = upload_version(client, Resource.objects.get(), "huge-v2.csv", big)
    assert response.status_code == 200 and "已停止接收" in response.content.decode()
    assert ResourceVersion.objects.count() == 1


class _SpyIO(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.largest_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.largest_read = max(self.largest_read, len(data))
        return data


def test_upload_check_reads_in_bounded_pieces(world):
    xlsx = with_part(workbook([["a"], [1]]), "xl/media/blob.bin", bytes(range(256)) * 12_000, zipfile.ZIP_STORED)
    spy = _SpyIO(xlsx)
    # a file as the temporary-file handler gives it (large uploads are never held in memory)
    upload = UploadedFile(spy, "t.xlsx", "application/octet-stream", len(xlsx))
    checked = check_data_file(upload)
    assert checked.size == len(xlsx) > 3_000_000
    assert spy.largest_read <= 128 * 1024  # never the whole 3 MB at once


def test_excel_with_formulas_and_merged_cells_reads_saved_values_and_fills_merges(client, world, open_dataset):
    xlsx = workbook([
        ["区", "街道", "数量", "合计"],
        ["浦东新区", "陆家嘴", 5, ("=C2*2", 10)],
        [None, "张江", 7, ("=C3*2", 14)],
        ["徐汇区", "天平", 3, ("=C4*2", None)],  # a formula saved without its value
    ], merges=["A2:A3"])
    client.force_login(world.paul)
    assert upload_resource(client, open_dataset, "districts.xlsx", xlsx).status_code == 302
    version = actions.run_quality_report(ResourceVersion.objects.get().pk)
    assert version.quality_state == QualityState.DONE and version.file_format == "excel"
    read = version.quality_profile["read"]
    assert (read["merged_ranges"], read["formula_cells"], read["formula_cells_without_value"]) == (1, 3, 1)
    assert read["path"] == "districts.xlsx"  # the public report never shows the storage path
    columns = {c["name"]: c for c in version.quality_profile["columns"]}
    assert columns["区"]["missing"] == 0  # the merged cell is filled with its top-left value
    assert columns["合计"]["missing"] == 1
    checks = version.quality_profile["dimensions"]["accessibility"]["checks"]
    formula = next(c for c in checks if c["name"] == "formula values")
    assert (formula["passed"], formula["evaluated"]) == (2, 3)  # the missing value lowers accessibility


def test_zip_bomb_is_refused_at_upload_and_a_lying_zip_by_the_quality_check(client, world, open_dataset):
    client.force_login(world.paul)
    bomb = with_part(workbook([["a"], [1]]), "xl/padding.xml", b" " * (8 << 20))  # 8 MiB of spaces, ~8 KiB packed
    assert len(bomb) < 64 * 1024
    response = upload_resource(client, open_dataset, "bomb.xlsx", bomb)
    assert response.status_code == 200 and "压缩炸弹" in response.content.decode()
    assert Resource.objects.count() == 0
    # a zip whose directory lies about the sizes passes the directory check and is caught while streaming
    liar = declare_size(with_part(workbook([["a"], [1]]), "xl/padding.xml", b"<x/>" * (1 << 20)),
                        "xl/padding.xml", 1000)
    assert upload_resource(client, open_dataset, "liar.xlsx", liar).status_code == 302
    version = actions.run_quality_report(ResourceVersion.objects.get().pk)
    assert version.quality_state == QualityState.FAILED
    assert version.quality_error.startswith("liar.xlsx:") and "damaged or manipulated" in version.quality_error


def test_upload_pages_still_check_csrf(world, open_dataset):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.paul)
    url = f"/data/datasets/{open_dataset.pk}/resources/new/"
    data = {"name": "观测表", "kind": "file", "file": SimpleUploadedFile("weather.csv", GOOD)}
    assert client.post(url, data).status_code == 403  # the upload handler does not bypass the CSRF check
    assert Resource.objects.count() == 0
    token = client.get(url).cookies["csrftoken"].value
    data["file"] = SimpleUploadedFile("weather.csv", GOOD)
    assert client.post(url, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    assert Resource.objects.count() == 1
