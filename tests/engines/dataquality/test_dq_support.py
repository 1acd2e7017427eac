"""Helpers for the data quality tests: scalar generators written from the standards, an .xlsx builder.

The generators here are deliberately independent of the engine (no shared tables), so a wrong weight
in the engine cannot be hidden by the same wrong weight in the test data. Every number is random or
the standards' own example: never a real person's.
"""

from __future__ import annotations

import random
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from gaodi.engines.identifiers import make_uscc

# GB 11643-1999, 7.3: the weights of positions 1-17 and the check character for (sum mod 11).
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]
STANDARD_EXAMPLE_ID = "11010519491231002X"  # the worked example printed in GB 11643-1999


def id_check(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def make_resident_id(region: str, birth: str, sequence: str) -> str:
    first17 = region + birth + sequence
    assert len(first17) == 17
    return first17 + id_check(first17)


def random_resident_id(rng: random.Random) -> str:
    region = rng.choice(["110105", "310104", "310115", "440305", "320102"])
    year = rng.randint(1950, 2004)
    birth = f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return make_resident_id(region, birth, f"{rng.randint(0, 999):03d}")


def wrong_check(code: str, alphabet: str = "0123456789X") -> str:
    """The same code with a different (wrong) last character."""
    return code[:-1] + next(c for c in alphabet if c != code[-1])


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these digits are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def random_card(rng: random.Random, length: int = 19, prefix: str = "62") -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def random_uscc(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return make_uscc("9", "1", f"3101{rng.randint(1, 20):02d}", "".join(rng.choice(alphabet) for _ in range(8)))


def random_mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "199"]) + "".join(rng.choice("0123456789") for _ in range(8))


# --- a minimal .xlsx writer: inline strings, numbers, formulas with or without cached values, merges


def _col(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def cell_xml(ref: str, value: object) -> str:
    """value: str, number, None, or ("=FORMULA", cached) where cached may be None."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        formula, cached = value
        f = f"<f>{escape(str(formula).lstrip('='))}</f>"
        if cached is None:
            return f'<c r="{ref}">{f}</c>'
        if isinstance(cached, str):
            return f'<c r="{ref}" t="str">{f}<v>{escape(cached)}</v></c>'
        return f'<c r="{ref}">{f}<v>{cached}</v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def build_xlsx(path: Path, rows: list[list[object]], *, merges: list[str] = (), first_row: int = 1,
               first_col: int = 0, sheet_name: str = "Sheet1") -> Path:
    body = []
    for r, row in enumerate(rows, start=first_row):
        cells = "".join(cell_xml(f"{_col(first_col + c)}{r}", v) for c, v in enumerate(row))
        body.append(f'<row r="{r}">{cells}</row>')
    merge_xml = ""
    if merges:
        merge_xml = f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>"
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData>{"".join(body)}</sheetData>{merge_xml}</worksheet>')
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": sheet,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_scalar_id_generator_reproduces_the_standards_example():
    assert make_resident_id("110105", "19491231", "002") == STANDARD_EXAMPLE_ID


def test_scalar_luhn_generator_matches_a_known_test_number():
    # 4111 1111 1111 1111 is the card networks' published test number.
    assert luhn_digit("411111111111111") == "1"
