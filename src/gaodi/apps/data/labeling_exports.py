"""Exports of a labeling project: JSON Lines, CSV and CoNLL, of the final labels or of all annotations.

Files are UTF-8 (no byte-order mark) and stream, so a large project never sits in memory. Cells are
written exactly as labelled (these are training data, not spreadsheets: nothing is prefixed).

- ``jsonl``, scope ``final``: one object per decided task: ``task_id, ordinal, source`` (version,
  row, id, file), ``text`` or ``image``, ``labels`` (classification) or ``spans`` (each with its
  ``text``), ``decided_by, decided_at``. Scope ``all``: one object per task, with every annotation
  (``annotator, labels|spans, updated_at``) and ``final`` (null while undecided).
- ``csv``, scope ``final``: classification one row per decided task (labels joined with ``|``); NER
  one row per final span. Scope ``all``: one row per annotation (classification) or per annotated
  span (NER), with the annotator.
- ``conll`` (NER only): one token and its BIO tag per line, documents separated by a blank line and
  introduced by ``# task_id = N`` (and ``# source_id``). Scope ``all`` has one tag column per
  annotator of the project (``# columns = token alice bob … final``; ``_`` where that annotator did not
  label the task or it is undecided). Tokens: per character for text with Han characters, per
  whitespace-separated word otherwise (labeling_schema).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _

from gaodi.apps.core.models import User

from .labeling_models import Annotation, LabelingProject, TaskState
from .labeling_schema import bio_tags, tokens

FORMATS = ("jsonl", "csv", "conll")
SCOPES = ("final", "all")
CONTENT_TYPES = {"jsonl": "application/jsonl; charset=utf-8", "csv": "text/csv; charset=utf-8",
                 "conll": "text/plain; charset=utf-8"}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "conll": "conll"}


def check(project: LabelingProject, fmt: str, scope: str) -> None:
    if fmt not in FORMATS:
        raise ValidationError({"format": _("不支持的导出格式“%(f)s”：请使用 jsonl、csv 或 conll。") % {"f": fmt}})
    if scope not in SCOPES:
        raise ValidationError({"scope": _("导出范围须为 final（最终标注）或 all（全部标注）。")})
    if fmt == "conll" and not project.is_ner:
        raise ValidationError({"format": _("CoNLL 格式只适用于命名实体项目；分类项目请用 jsonl 或 csv。")})


def _tasks(project: LabelingProject, scope: str):
    qs = project.tasks.select_related("decided_by", "batch").order_by("ordinal")
    if scope == "final":
        qs = qs.filter(state=TaskState.DECIDED)
    else:
        qs = qs.prefetch_related("annotations__annotator")
    return qs.iterator(chunk_size=500)


def _source(task) -> dict:
    batch = task.batch
    return {"version_id": batch.version_id, "row": task.source_row, "id": task.source_id or None,
            "file": task.image_name or None}


def _spans(text: str, spans) -> list[dict]:
    return [{**s, "text": text[s["start"]:s["end"]]} for s in spans]


def _value(project: LabelingProject, task, value) -> dict:
    if value is None:
        return {}
    if project.is_ner:
        return {"spans": _spans(task.text, value)}
    return {"labels": list(value)}


def _jsonl(project: LabelingProject, scope: str) -> Iterator[str]:
    for task in _tasks(project, scope):
        item = {"task_id": task.pk, "ordinal": task.ordinal, "source": _source(task)}
        if project.is_image:
            item["image"] = task.image_name
        else:
            item["text"] = task.text
        final = None
        if task.final is not None:
            final = {**_value(project, task, task.final), "decided_by": task.decided_by.username if task.decided_by else None,
                     "decided_at": task.decided_at.isoformat() if task.decided_at else None}
        if scope == "final":
            item.update(final or {})
        else:
            item["annotations"] = [{"annotator": a.annotator.username, **_value(project, task, a.value),
                                    "updated_at": a.updated_at.isoformat()} for a in task.annotations.all()]
            item["final"] = final
        yield json.dumps(item, ensure_ascii=False) + "\n"


def _csv_lines(rows: Iterator[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _csv_rows(project: LabelingProject, scope: str) -> Iterator[list]:
    content = "image" if project.is_image else "text"
    if project.is_ner:
        if scope == "final":
            yield ["task_id", "ordinal", "source_id", "start", "end", "label", "span_text", "decided_by", "decided_at"]
        else:
            yield ["task_id", "ordinal", "source_id", "annotator", "start", "end", "label", "span_text", "updated_at"]
    elif scope == "final":
        yield ["task_id", "ordinal", "source_id", "source_row", content, "labels", "decided_by", "decided_at"]
    else:
        yield ["task_id", "ordinal", "source_id", "source_row", content, "annotator", "labels", "updated_at",
               "final_labels"]
    for task in _tasks(project, scope):
        shown = task.image_name if project.is_image else task.text
        decider = task.decided_by.username if task.decided_by else None
        decided_at = task.decided_at.isoformat() if task.decided_at else None
        if scope == "final":
            if project.is_ner:
                for s in task.final:
                    yield [task.pk, task.ordinal, task.source_id, s["start"], s["end"], s["label"],
                           task.text[s["start"]:s["end"]], decider, decided_at]
            else:
                yield [task.pk, task.ordinal, task.source_id, task.source_row, shown, "|".join(task.final), decider,
                       decided_at]
            continue
        for a in task.annotations.all():
            if project.is_ner:
                for s in a.value:
                    yield [task.pk, task.ordinal, task.source_id, a.annotator.username, s["start"], s["end"],
                           s["label"], task.text[s["start"]:s["end"]], a.updated_at.isoformat()]
            else:
                yield [task.pk, task.ordinal, task.source_id, task.source_row, shown, a.annotator.username,
                       "|".join(a.value), a.updated_at.isoformat(),
                       "|".join(task.final) if task.final is not None else None]


def _conll(project: LabelingProject, scope: str) -> Iterator[str]:
    names = []
    if scope == "all":
        ids = (Annotation.objects.filter(task__project=project).values_list("annotator_id", flat=True).distinct())
        names = list(User.objects.filter(pk__in=ids).order_by("username").values_list("username", flat=True))
        yield "# columns = token " + " ".join([*names, "final"]) + "\n\n"
    for task in _tasks(project, scope):
        offsets = tokens(task.text)
        lines = [f"# task_id = {task.pk}\n"]
        if task.source_id:
            lines.append(f"# source_id = {' '.join(task.source_id.split())}\n")
        words = [task.text[s:e] for s, e in offsets]
        if scope == "final":
            for word, tag in zip(words, bio_tags(task.text, task.final, offsets), strict=True):
                lines.append(f"{word}\t{tag}\n")
        else:
            columns = []
            by_name = {a.annotator.username: a.value for a in task.annotations.all()}
            for name in names:
                value = by_name.get(name)
                columns.append(bio_tags(task.text, value, offsets) if value is not None else ["_"] * len(offsets))
            columns.append(bio_tags(task.text, task.final, offsets) if task.final is not None else ["_"] * len(offsets))
            for i, word in enumerate(words):
                lines.append(word + "\t" + "\t".join(c[i] for c in columns) + "\n")
        lines.append("\n")
        yield "".join(lines)


def stream(project: LabelingProject, fmt: str, scope: str) -> Iterator[str]:
    check(project, fmt, scope)
    if fmt == "jsonl":
        return _jsonl(project, scope)
    if fmt == "csv":
        return _csv_lines(_csv_rows(project, scope))
    return _conll(project, scope)


def response(project: LabelingProject, fmt: str, scope: str) -> StreamingHttpResponse:
    body = stream(project, fmt, scope)
    out = StreamingHttpResponse((chunk.encode("utf-8") for chunk in body), content_type=CONTENT_TYPES[fmt])
    out["Content-Disposition"] = f'attachment; filename="labeling-{project.pk}-{scope}.{EXTENSIONS[fmt]}"'
    out["X-Content-Type-Options"] = "nosniff"
    return out
