"""Inter-annotator agreement of a labeling project, computed with `gaodi.engines.dataquality.agreement`.

Units rated:

- single-label classification: each task; the category is the chosen label;
- multi-label classification: each (task, label) pair; the category is whether the label was chosen
  ("yes"/"no"), so one annotation rates every label of its task;
- named entities: each token of the task's text (see labeling_schema.tokens); the category is the
  token's BIO tag (O, B-TYPE, I-TYPE).

Statistics:

- Cohen's kappa for every pair of annotators over the units of the tasks both annotated, and per
  annotator the mean of their defined pairwise kappas with the others;
- Fleiss' kappa over the tasks with exactly `overlap` annotations (it needs the same number of ratings
  per unit; tasks with fewer or more are left out and counted);
- Krippendorff's alpha (nominal) over all annotators × all units, missing ratings allowed.

Every statistic reports n (units, and the tasks they come from). An undefined statistic is None with
the reason, never 0.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from django.utils.translation import gettext as _

from gaodi.apps.core.models import User
from gaodi.engines.dataquality import cohen_kappa, fleiss_kappa, krippendorff_alpha, ratings_to_counts

from .labeling_models import Annotation, LabelingProject
from .labeling_schema import bio_tags, tokens

YES, NO = "yes", "no"


def unit_name(project: LabelingProject) -> str:
    if project.is_ner:
        return _("词元")
    if project.multi_label:
        return _("任务×标签")
    return _("任务")


def _categories(project: LabelingProject, value, text: str, offsets) -> list[str]:
    if project.is_ner:
        return bio_tags(text, value, offsets)
    if project.multi_label:
        chosen = set(value)
        return [YES if label in chosen else NO for label in project.label_values]
    return [value[0]]


def collect(project: LabelingProject) -> tuple[dict[int, dict[int, list[str]]], dict[int, list[int]]]:
    """by_annotator[annotator][task] = the categories of the task's units; annotators_of[task]."""
    rows = Annotation.objects.filter(task__project=project).values_list("task_id", "annotator_id", "value",
                                                                         "task__text")
    by_annotator: dict[int, dict[int, list[str]]] = defaultdict(dict)
    annotators_of: dict[int, list[int]] = defaultdict(list)
    offsets_cache: dict[int, list[tuple[int, int]]] = {}
    for task_id, annotator_id, value, text in rows.order_by("task_id", "annotator_id").iterator(chunk_size=2000):
        offsets = None
        if project.is_ner:
            offsets = offsets_cache.get(task_id)
            if offsets is None:
                offsets_cache.clear()  # rows come ordered by task: keep one task's tokens
                offsets = offsets_cache[task_id] = tokens(text)
        by_annotator[annotator_id][task_id] = _categories(project, value, text, offsets)
        annotators_of[task_id].append(annotator_id)
    return by_annotator, annotators_of


def _cohen(a: dict[int, list[str]], b: dict[int, list[str]]) -> dict:
    common = sorted(a.keys() & b.keys())
    la = [c for t in common for c in a[t]]
    lb = [c for t in common for c in b[t]]
    if not la:
        return {"value": None, "n": 0, "tasks": len(common), "reason": _("两人没有共同标注的任务。")}
    value = cohen_kappa(la, lb)
    reason = "" if value is not None else _("两人在共同任务上都只用了同一个类别，偶然一致已是 100%，kappa 无定义。")
    return {"value": value, "n": len(la), "tasks": len(common), "reason": reason}


def project_agreement(project: LabelingProject) -> dict:
    by_annotator, annotators_of = collect(project)
    people = {u.pk: u for u in User.objects.filter(pk__in=by_annotator.keys())}
    ids = sorted(by_annotator, key=lambda pk: people[pk].username)
    pairs = []
    per_pair: dict[tuple[int, int], dict] = {}
    for a, b in combinations(ids, 2):
        result = _cohen(by_annotator[a], by_annotator[b])
        per_pair[(a, b)] = per_pair[(b, a)] = result
        pairs.append({"a": a, "a_name": people[a].username, "b": b, "b_name": people[b].username, **result})
    annotators = []
    for a in ids:
        values = [per_pair[(a, b)]["value"] for b in ids if b != a and per_pair[(a, b)]["value"] is not None]
        shared = [b for b in ids if b != a and per_pair[(a, b)]["tasks"] > 0]
        if values:
            mean, reason = sum(values) / len(values), ""
        elif not shared:
            mean, reason = None, _("没有与其他标注员共同标注的任务。")
        else:
            mean, reason = None, _("与其他标注员的 kappa 都无定义。")
        annotators.append({"id": a, "name": people[a].username, "display": str(people[a]),
                           "tasks": len(by_annotator[a]), "mean_kappa": mean, "value": mean, "pairs": len(values),
                           "reason": reason})
    return {
        "unit": unit_name(project), "overlap": project.overlap,
        "tasks": project.tasks.count(), "annotated_tasks": len(annotators_of),
        "multi_rated_tasks": sum(1 for v in annotators_of.values() if len(v) >= 2),
        "pairs": pairs, "annotators": annotators,
        "fleiss": _fleiss(project, by_annotator, annotators_of),
        "krippendorff": _krippendorff(ids, by_annotator, annotators_of),
    }


def _fleiss(project: LabelingProject, by_annotator, annotators_of) -> dict:
    k = project.overlap
    if k < 2:
        return {"value": None, "n": 0, "tasks": 0, "excluded_tasks": len(annotators_of), "raters": k,
                "reason": _("每个任务只分配 1 名标注员；Fleiss' kappa 需要每个任务至少 2 份标注。")}
    full = sorted(t for t, who in annotators_of.items() if len(who) == k)
    excluded = len(annotators_of) - len(full)
    rows = []
    for t in full:
        columns = [by_annotator[a][t] for a in annotators_of[t]]
        rows.extend(list(unit) for unit in zip(*columns, strict=True))
    if not rows:
        return {"value": None, "n": 0, "tasks": 0, "excluded_tasks": excluded, "raters": k,
                "reason": _("还没有任务集齐 %(k)d 份标注（Fleiss' kappa 要求每个任务的标注人数相同）。") % {"k": k}}
    counts, _cats = ratings_to_counts(rows)
    value = fleiss_kappa(counts)
    reason = "" if value is not None else _("所有标注都属于同一个类别，kappa 无定义。")
    return {"value": value, "n": len(rows), "tasks": len(full), "excluded_tasks": excluded, "raters": k,
            "reason": reason}


def _krippendorff(ids: list[int], by_annotator, annotators_of) -> dict:
    tasks = sorted(t for t, who in annotators_of.items() if len(who) >= 2)
    if not tasks:
        return {"value": None, "n": 0, "tasks": 0, "reason": _("还没有任务有 2 份以上的标注。")}
    width = {t: len(by_annotator[annotators_of[t][0]][t]) for t in tasks}
    data = []
    for a in ids:
        mine = by_annotator[a]
        row: list[str | None] = []
        for t in tasks:
            row.extend(mine[t] if t in mine else [None] * width[t])
        data.append(row)
    value = krippendorff_alpha(data, level="nominal")
    reason = "" if value is not None else _("所有可配对的标注都是同一个值，期望不一致为 0，alpha 无定义。")
    return {"value": value, "n": sum(width.values()), "tasks": len(tasks), "reason": reason}
