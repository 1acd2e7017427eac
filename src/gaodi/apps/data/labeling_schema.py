"""Label schemas and annotation values: validation with field-named errors, and the token/BIO view of
entity spans used by the CoNLL export and by token-level agreement.

A schema is a list of labels ``{"value", "name", "key"}``: `value` is what is stored and exported (no
spaces, no ``|``), `name` what annotators read, `key` the one-character keyboard shortcut (0-9, a-z).

A classification value is a list of label values (exactly one for a single-label project, any subset
for a multi-label one, in schema order). An entity value is a list of spans ``{"start", "end",
"label"}``: offsets in characters (Unicode code points) of the task's text, end exclusive, sorted,
non-overlapping, never only whitespace.

Tokens (CoNLL and NER agreement): a text with at least one Han character is split per character
(every character that is not whitespace is a token); any other text per whitespace-separated word.
A token belongs to a span when they share a character; the first such token of a span is B-, the
rest I-, tokens outside every span are O.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_LABELS = 36
MAX_VALUE_CHARS = 40
MAX_NAME_CHARS = 50
MAX_SPANS = 500
KEYS = "1234567890" + string.ascii_lowercase
_BAD_VALUE = re.compile(r"[\s|]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_WORD = re.compile(r"\S+")


def _error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


# ---- schemas ------------------------------------------------------------------------------------

def parse_label_lines(text: str) -> list[dict]:
    """The web form's label set: one label per line, ``value | name | key`` (name and key optional)."""
    labels = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) > 3:
            raise _error("labels", _("第 %(n)d 行：最多三项（标签值 | 显示名 | 快捷键），用“|”分隔。") % {"n": number})
        value = parts[0]
        name = parts[1] if len(parts) > 1 and parts[1] else value
        key = parts[2] if len(parts) > 2 else ""
        labels.append({"value": value, "name": name, "key": key, "line": number})
    return labels


def label_lines(labels: Sequence[dict]) -> str:
    return "\n".join(f"{label['value']} | {label['name']} | {label['key']}" for label in labels)


def validate_labels(labels: Iterable[dict], kind: str) -> list[dict]:
    """Check and normalise a label set; keys missing are given the first free of 1-9, 0, a-z."""
    items = list(labels)
    errors = []

    def where(i: int, item: dict) -> str:
        line = item.get("line")
        return (_("第 %(n)d 行") % {"n": line}) if line else (_("第 %(n)d 个标签") % {"n": i + 1})

    minimum = 1 if kind == "ner" else 2
    if len(items) < minimum:
        errors.append(_("请至少定义 %(n)d 个标签。") % {"n": minimum} if minimum > 1
                      else _("请至少定义 1 个实体类型。"))
    if len(items) > MAX_LABELS:
        errors.append(_("标签不能超过 %(n)d 个（快捷键只有 0-9 和 a-z）。") % {"n": MAX_LABELS})
    seen_values: set[str] = set()
    seen_names: set[str] = set()
    seen_keys: set[str] = set()
    clean = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(_("%(w)s：格式不对，应为包含 value、name、key 的对象。") % {"w": where(i, {})})
            continue
        value = str(item.get("value") or "").strip()
        name = str(item.get("name") or "").strip() or value
        key = str(item.get("key") or "").strip().lower()
        w = where(i, item)
        if not value:
            errors.append(_("%(w)s：标签值不能为空。") % {"w": w})
            continue
        if len(value) > MAX_VALUE_CHARS:
            errors.append(_("%(w)s：标签值“%(v)s”超过 %(n)d 个字符。") % {"w": w, "v": value[:MAX_VALUE_CHARS], "n": MAX_VALUE_CHARS})
        if _BAD_VALUE.search(value):
            errors.append(_("%(w)s：标签值“%(v)s”不能包含空白或“|”（导出时用作分隔符）。") % {"w": w, "v": value})
        if kind == "ner" and value.upper() == "O":
            errors.append(_("%(w)s：实体类型不能叫“O”（BIO 标注中 O 表示非实体）。") % {"w": w})
        if value in seen_values:
            errors.append(_("%(w)s：标签值“%(v)s”重复。") % {"w": w, "v": value})
        if len(name) > MAX_NAME_CHARS:
            errors.append(_("%(w)s：显示名超过 %(n)d 个字符。") % {"w": w, "n": MAX_NAME_CHARS})
        if name.casefold() in seen_names:
            errors.append(_("%(w)s：显示名“%(v)s”重复。") % {"w": w, "v": name})
        if key:
            if len(key) != 1 or key not in KEYS:
                errors.append(_("%(w)s：快捷键“%(k)s”无效，请用一个数字或字母（0-9、a-z）。") % {"w": w, "k": key})
            elif key in seen_keys:
                errors.append(_("%(w)s：快捷键“%(k)s”已被其他标签使用。") % {"w": w, "k": key})
        seen_values.add(value)
        seen_names.add(name.casefold())
        if key:
            seen_keys.add(key)
        clean.append({"value": value, "name": name, "key": key})
    if errors:
        raise ValidationError({"labels": errors})
    free = iter(k for k in KEYS if k not in seen_keys)
    for label in clean:
        if not label["key"]:
            label["key"] = next(free)
    return clean


# ---- annotation values --------------------------------------------------------------------------

def validate_classification(labels: Sequence[str], multi: bool, value) -> list[str]:
    """A classification value: a list of label values (a single string is accepted for one label)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _error("labels", _("标注应为标签值的列表。"))
    allowed = list(labels)
    outside = [v for v in value if v not in allowed]
    if outside:
        raise _error("labels", _("标签“%(v)s”不在本项目的标签集中（可用：%(all)s）。")
                     % {"v": outside[0], "all": "、".join(allowed)})
    if len(set(value)) != len(value):
        raise _error("labels", _("同一个标签选了两次。"))
    if not multi and len(value) != 1:
        raise _error("labels", _("本项目为单标签分类，请恰好选择一个标签。"))
    order = {v: i for i, v in enumerate(allowed)}
    return sorted(value, key=order.__getitem__)


def validate_spans(labels: Sequence[str], text: str, value) -> list[dict]:
    """Entity spans: in range, labels from the schema, not only whitespace, not overlapping."""
    if not isinstance(value, list | tuple):
        raise _error("spans", _("实体标注应为片段列表，每个片段包含 start、end 和 label。"))
    if len(value) > MAX_SPANS:
        raise _error("spans", _("一个任务最多标注 %(n)d 个实体。") % {"n": MAX_SPANS})
    allowed = set(labels)
    length = len(text)
    spans = []
    for i, span in enumerate(value, start=1):
        if not isinstance(span, dict):
            raise _error("spans", _("第 %(i)d 个片段格式不对，应包含 start、end 和 label。") % {"i": i})
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
            raise _error("spans", _("第 %(i)d 个片段的 start 和 end 须为整数（字符位置）。") % {"i": i})
        if not isinstance(label, str) or label not in allowed:
            raise _error("spans", _("第 %(i)d 个片段的实体类型“%(v)s”不在本项目的标签集中（可用：%(all)s）。")
                         % {"i": i, "v": label, "all": "、".join(labels)})
        if not 0 <= start < end <= length:
            raise _error("spans", _("第 %(i)d 个片段 [%(s)d, %(e)d) 超出文本范围（文本共 %(n)d 个字符，须 0 ≤ start < end ≤ %(n)d）。")
                         % {"i": i, "s": start, "e": end, "n": length})
        if not text[start:end].strip():
            raise _error("spans", _("第 %(i)d 个片段只包含空白字符。") % {"i": i})
        spans.append({"start": start, "end": end, "label": label})
    spans.sort(key=lambda s: (s["start"], s["end"]))
    for before, after in zip(spans, spans[1:], strict=False):
        if after["start"] < before["end"]:
            raise _error("spans", _("片段“%(a)s”[%(as)d, %(ae)d) 与“%(b)s”[%(bs)d, %(be)d) 重叠；实体不能重叠，请先删除其中一个。")
                         % {"a": text[before["start"]:before["end"]], "as": before["start"], "ae": before["end"],
                            "b": text[after["start"]:after["end"]], "bs": after["start"], "be": after["end"]})
    return spans


def canonical(value) -> tuple:
    """A hashable form of a (validated) value, to compare annotations."""
    if value and isinstance(value[0], dict):
        return tuple((s["start"], s["end"], s["label"]) for s in value)
    return tuple(value or ())


# ---- tokens and BIO -----------------------------------------------------------------------------

def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def tokens(text: str) -> list[tuple[int, int]]:
    """Token offsets: per non-whitespace character for text with Han characters, else per word."""
    if has_han(text):
        return [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def bio_tags(text: str, spans: Sequence[dict], offsets: Sequence[tuple[int, int]] | None = None) -> list[str]:
    """One BIO tag per token (see the module docstring for how spans map to tokens)."""
    offsets = tokens(text) if offsets is None else offsets
    tags = ["O"] * len(offsets)
    ordered = sorted(spans, key=lambda s: s["start"])
    j = 0
    previous = -1  # index of the span that tagged the previous token
    for i, (start, end) in enumerate(offsets):
        while j < len(ordered) and ordered[j]["end"] <= start:
            j += 1
        if j < len(ordered) and ordered[j]["start"] < end:
            tags[i] = ("I-" if previous == j else "B-") + ordered[j]["label"]
            previous = j
        else:
            previous = -1
    return tags
