"""English interface: pages render in English when asked, and the message catalogue stays complete.

The source strings are Simplified Chinese (the default language); the English catalogue lives in
src/gaodi/config/locale/en/LC_MESSAGES/ and is refreshed with scripts/update-translations.sh.
The catalogue tests below parse the .po with a small parser of their own (no polib), so that
a string added to the code but missing from the catalogue, left untranslated or left fuzzy by
msgmerge, or a .mo not rebuilt after editing the .po, fails CI.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
import tokenize
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "gaodi"
LC_MESSAGES = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"


@pytest.fixture(autouse=True)
def _restore_language():
    # LocaleMiddleware activates the request's language in this thread; don't leak English.
    before = translation.get_language()
    yield
    translation.activate(before) if before else translation.deactivate()


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


# --- Pages in English ------------------------------------------------------------------------------


def test_default_language_is_chinese(client, db):
    html = _html(client.get("/"))
    assert '<html lang="zh-Hans"' in html
    assert "上海人工智能产业服务与治理平台" in html
    assert "跳到主要内容" in html
    assert "Skip to main content" not in html


def test_home_in_english_with_accept_language(client, db):
    html = _html(client.get("/", headers={"accept-language": "en"}))
    assert '<html lang="en"' in html
    assert "Shanghai AI Industry Service and Governance Platform" in html
    assert "Skip to main content" in html
    assert "Search filed algorithms (Simplified Chinese, Traditional Chinese or English)" in html
    assert "Filed algorithms" in html
    assert "Elder-friendly mode" in html and "长者模式" not in html
    assert "跳到主要内容" not in html
    assert "上海人工智能产业服务与治理平台" not in html


def test_language_cookie_selects_english(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = _html(client.get("/regulation/"))
    assert '<html lang="en"' in html
    assert "<h1>Shanghai Regulations on Promoting the Development of the Artificial Intelligence Industry</h1>" in html
    assert "Article 1 " in html
    assert ">Implemented</span>" in html
    assert "已实现" not in html


def test_set_language_view_switches_to_english_and_back(client, make_filing, world):
    make_filing("approved")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/filings/"})
    assert response.status_code == 302 and response.url == "/filings/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"

    html = _html(client.get("/filings/"))
    assert '<html lang="en"' in html
    assert "<h1>Algorithm filing disclosure</h1>" in html
    assert "1 result" in html and "1 results" not in html  # plural forms (shared by every list page)
    for heading in ("Algorithm name", "Filing number", "Filing entity", "Category", "District", "Filing date"):
        assert f'<th scope="col">{heading}</th>' in html
    assert "<td>Personalised recommendation</td>" in html  # a choice label
    assert "<td>Xuhui District</td>" in html
    assert '<span class="badge badge-approved">Filed</span>' in html
    assert "商品个性化推荐算法" in html  # user data stays as entered

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/filings/"})
    html = _html(client.get("/filings/"))
    assert '<html lang="zh-Hans"' in html
    assert "<h1>算法备案公示</h1>" in html


def test_english_messages_from_python_code(db):
    from gaodi.apps.algorithms.models import State
    from gaodi.apps.core.choices import District, SizeClass

    with translation.override("en"):
        assert str(District.PUDONG.label) == "Pudong New Area"
        assert [str(c.label) for c in SizeClass] == ["Large", "Medium", "Small", "Micro"]
        assert str(State.DRAFT.label) == "Draft"
        assert translation.gettext("公示批次 %(no)s 已发布。") % {"no": "B1"} == "Disclosure batch B1 published."
    with translation.override("zh-hans"):
        assert str(District.PUDONG.label) == "浦东新区"


# --- The catalogue ---------------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def _unquote(text: str, where: str) -> str:
    value = ast.literal_eval(text)  # PO strings use C escapes, which Python literals accept
    assert isinstance(value, str), where
    return value


def parse_po(path: Path) -> list[Entry]:
    """A minimal PO parser: msgctxt, msgid, msgid_plural, msgstr[n], continuation lines, #, flags.

    Obsolete entries (#~) come back flagged "obsolete", so that the tests can refuse them.
    """
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry, target
        if target is not None:
            entries.append(entry)
        entry, target = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        where = f"{path.name}:{number}"
        if line.startswith("#~") and not line.startswith("#~|"):
            line = line[2:].strip()
            entry.flags.add("obsolete")
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if entry.msgstr:  # a comment after a complete entry starts the next one
                finish()
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            continue
        if line.startswith('"'):
            assert target is not None, f"{where}: continuation line outside an entry"
            name, index = target
            text = _unquote(line, where)
        else:
            keyword, _, rest = line.partition(" ")
            if keyword in ("msgctxt", "msgid") and entry.msgstr:
                finish()
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                name, index = "msgstr", int(match.group(1))
            elif keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
                name, index = keyword, 0
            else:
                raise AssertionError(f"{where}: unknown keyword {keyword!r}")
            entry.line = entry.line or number
            target = (name, index)
            text = _unquote(rest, where)
            if name == "msgstr":
                entry.msgstr[index] = ""
            elif name == "msgid_plural":
                entry.msgid_plural = ""
            elif name == "msgctxt":
                entry.msgctxt = ""
        if name == "msgstr":
            entry.msgstr[index] += text
        elif name == "msgid":
            entry.msgid += text
        elif name == "msgid_plural":
            entry.msgid_plural = (entry.msgid_plural or "") + text
        else:
            entry.msgctxt = (entry.msgctxt or "") + text
    finish()
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    assert PO_FILE.exists(), f"{PO_FILE} is missing: run scripts/update-translations.sh"
    return parse_po(PO_FILE)


def _messages(catalogue: list[Entry]) -> list[Entry]:
    return [e for e in catalogue if e.msgid]


def _describe(e: Entry) -> str:
    return f"{PO_FILE.name}:{e.line}: {e.msgid!r}"


def test_parser_reads_flags_plurals_and_obsolete_entries(tmp_path):
    po = tmp_path / "sample.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid "旧 %(n)s"\nmsgstr "Old %(n)s"\n'
        '#: a.py:2\nmsgid ""\n"长"\n"文"\nmsgstr ""\n\n'
        'msgctxt "菜单"\nmsgid "共 %(n)s 项"\nmsgid_plural "共 %(n)s 项"\n'
        'msgstr[0] "%(n)s item"\nmsgstr[1] "%(n)s items"\n\n'
        '#~ msgid "删"\n#~ msgstr "Gone"\n',
        encoding="utf-8",
    )
    header, fuzzy, untranslated, plural, obsolete = parse_po(po)
    assert header.msgid == "" and header.msgstr == {0: "Language: en\n"}
    assert (fuzzy.msgid, fuzzy.msgstr, fuzzy.flags) == ("旧 %(n)s", {0: "Old %(n)s"}, {"fuzzy", "python-format"})
    assert (untranslated.msgid, untranslated.msgstr, untranslated.flags) == ("长文", {0: ""}, set())
    assert (plural.msgctxt, plural.msgid_plural) == ("菜单", "共 %(n)s 项")
    assert plural.msgstr == {0: "%(n)s item", 1: "%(n)s items"}
    assert (obsolete.msgid, obsolete.flags) == ("删", {"obsolete"})


def test_catalogue_header(catalogue):
    header = next(e for e in catalogue if not e.msgid and e.msgctxt is None)
    assert "fuzzy" not in header.flags, "a fuzzy header makes msgfmt drop the charset"
    fields = dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)
    assert fields["Language"] == "en"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


def test_every_string_is_translated_and_none_is_fuzzy(catalogue):
    messages = _messages(catalogue)
    assert len(messages) > 300, "the parser lost entries"
    problems = []
    for e in messages:
        if "obsolete" in e.flags:
            problems.append(f"{_describe(e)} is obsolete (run makemessages with --no-obsolete)")
        if "fuzzy" in e.flags:
            problems.append(f"{_describe(e)} is fuzzy: check the translation and remove the flag")
        expected = [0, 1] if e.msgid_plural is not None else [0]
        if sorted(e.msgstr) != expected or not all(e.msgstr[i].strip() for i in expected):
            problems.append(f"{_describe(e)} has no English translation")
    assert not problems, "\n".join(problems)


PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")


def _placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text))


def test_translations_keep_the_placeholders(catalogue):
    problems = []
    for e in _messages(catalogue):
        if "python-format" not in e.flags:
            # Without the flag Django does not %-format the string: a stray placeholder would show.
            assert "%(" not in "".join(e.msgstr.values()), _describe(e)
            continue
        wanted = _placeholders(e.msgid)
        for index, text in e.msgstr.items():
            source = e.msgid if index == 0 or e.msgid_plural is None else e.msgid_plural
            if _placeholders(text) != _placeholders(source) or (index and _placeholders(source) != wanted):
                problems.append(f"{_describe(e)} [{index}] -> {text!r}")
    assert not problems, "placeholders differ:\n" + "\n".join(problems)


def test_compiled_catalogue_matches_the_po(catalogue):
    """django.mo must be rebuilt after every edit of django.po (compilemessages)."""
    assert MO_FILE.exists(), f"{MO_FILE} is missing: run scripts/update-translations.sh"
    with MO_FILE.open("rb") as fp:
        mo = gettext.GNUTranslations(fp)
    stale = []
    for e in _messages(catalogue):
        if e.msgid_plural is None:
            got = [mo.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else mo.gettext(e.msgid)]
        elif e.msgctxt is not None:
            got = [mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n) for n in (1, 2)]
        else:
            got = [mo.ngettext(e.msgid, e.msgid_plural, n) for n in (1, 2)]
        if got != [e.msgstr[i] for i in range(len(got))]:
            stale.append(_describe(e))
    assert not stale, "django.mo is older than django.po; run compilemessages:\n" + "\n".join(stale)


def test_msgfmt_check_passes():
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext (msgfmt) is not installed; the other catalogue tests still run")
    result = subprocess.run([msgfmt, "--check", "-o", "/dev/null", str(PO_FILE)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --- Every string in the code is in the catalogue --------------------------------------------------
# A pure-Python version of what makemessages extracts (xgettext needs GNU gettext, which CI may
# lack): gettext calls in .py files, and {% translate %} / {% blocktranslate %} / _("…") in templates
# via Django's own templatize().

# keyword -> positions of (context, singular, plural) among the call's arguments, as xgettext uses
# them with Django's --keyword options.
KEYWORDS = {
    "_": (None, 0, None), "gettext": (None, 0, None), "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None), "ngettext": (None, 0, 1), "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None), "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2), "npgettext_lazy": (0, 1, 2),
}
Key = tuple[str | None, str, str | None]  # (msgctxt, msgid, msgid_plural)


def _key(name: str, args: list[object]) -> Key | None:
    ctx, one, many = KEYWORDS[name]
    wanted = [i for i in (ctx, one, many) if i is not None]
    if len(args) <= max(wanted) or not all(isinstance(args[i], str) for i in wanted):
        return None
    return (args[ctx] if ctx is not None else None, args[one], args[many] if many is not None else None)


def _python_strings(source: str) -> set[Key]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in KEYWORDS:
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            if (key := _key(name, args)) is not None:
                found.add(key)
    return found


CALL = re.compile(r"\b(" + "|".join(KEYWORDS) + r")\(")


def _template_strings(source: str) -> set[Key]:
    found = set()
    for line in templatize(source).splitlines():
        for match in CALL.finditer(line):
            tokens = tokenize.generate_tokens(StringIO(line[match.start(1):] + "\n").readline)
            args: list[object] = []
            for tok in tokens:
                if tok.type == tokenize.OP and tok.string == ")":
                    break
                if tok.type == tokenize.STRING:
                    args.append(ast.literal_eval(tok.string))
                elif tok.type == tokenize.NAME and tok.string not in KEYWORDS:
                    args.append(None)
            if (key := _key(match.group(1), args)) is not None:
                found.add(key)
    return found


def source_strings() -> set[Key]:
    found: set[Key] = set()
    for path in sorted(SRC.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(SRC).parts):
            continue
        if path.suffix == ".py":
            found |= _python_strings(path.read_text(encoding="utf-8"))
        elif path.suffix in (".html", ".txt"):
            found |= _template_strings(path.read_text(encoding="utf-8"))
    return found


def test_every_string_in_the_code_is_in_the_catalogue(catalogue):
    in_po = {(e.msgctxt, e.msgid, e.msgid_plural) for e in _messages(catalogue) if "obsolete" not in e.flags}
    in_code = source_strings()
    assert len(in_code) > 300  # the extractor works
    missing = sorted(in_code - in_po, key=str)
    assert not missing, (
        "strings in the code but not in django.po; run scripts/update-translations.sh and translate them:\n"
        + "\n".join(map(repr, missing))
    )
    unused = sorted(in_po - in_code, key=str)
    assert not unused, "entries of django.po no longer in the code (rerun the script):\n" + "\n".join(map(repr, unused))
