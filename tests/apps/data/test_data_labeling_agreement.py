"""The agreement page's numbers equal scikit-learn's cohen_kappa_score, statsmodels' fleiss_kappa and the
krippendorff package on random labels of real projects (tasks and annotations in the database), for
single-label, multi-label and entity projects; undefined values say why and are never shown as 0."""

from __future__ import annotations

import math
import random
import warnings
from itertools import combinations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss
from test_data_labeling_support import (
    ENTITIES,
    add_file,
    annotate,
    build_labeling_world,
    csv_bytes,
    import_text,
    make_dataset,
    make_project,
)

from gaodi.apps.core.models import Membership, User
from gaodi.apps.data.labeling_agreement import project_agreement
from gaodi.apps.data.labeling_models import Annotation, ImportState, LabelingTask, TaskImport
from gaodi.apps.data.labeling_schema import bio_tags, tokens

TOLERANCE = 1e-9


@pytest.fixture
def lw(world):
    return build_labeling_world(world)


def close(ours, reference) -> bool:
    if reference is None or (isinstance(reference, float) and math.isnan(reference)):
        return ours is None
    return ours is not None and abs(ours - reference) <= TOLERANCE


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(*args, **kwargs))
        except (ValueError, ZeroDivisionError):
            return float("nan")


def random_project(lw, world, rng, *, tasks, raters, overlap, labels, multi=False, incomplete=0.0):
    """A project with `tasks` tasks whose annotations are random labels, written straight to the tables
    (the actions' rules are tested elsewhere; here only the numbers matter)."""
    names = [f"r{rng.randrange(10**6)}_{i}" for i in range(raters)]
    users = []
    for name in names:
        user = User.objects.create_user(username=name, password="x")
        Membership.objects.create(user=user, organization=lw.org, role="member")
        users.append(user)
    label_text = "\n".join(labels)
    project = make_project(lw, overlap=overlap, labels=label_text, multi=multi, annotators=(),
                           name=f"随机项目{rng.randrange(10**6)}")
    version = add_file(world.paul, make_dataset(world, title=f"数据{rng.randrange(10**6)}"), csv_bytes(["x"]))
    batch = TaskImport.objects.create(project=project, version=version, state=ImportState.DONE, created_by=lw.mona)
    made = LabelingTask.objects.bulk_create([LabelingTask(project=project, batch=batch, ordinal=i + 1, text=f"t{i}")
                                             for i in range(tasks)])
    rows = []
    truth: dict[int, dict[int, list[str]]] = {}
    for task in made:
        who = rng.sample(users, overlap)
        if incomplete and rng.random() < incomplete:
            who = who[: rng.randrange(1, overlap)] if overlap > 1 else who
        truth[task.pk] = {}
        for user in who:
            if multi:
                value = [label for label in labels if rng.random() < 0.4]
            else:
                value = [rng.choice(labels)]
            truth[task.pk][user.pk] = value
            rows.append(Annotation(task=task, annotator=user, value=value))
    Annotation.objects.bulk_create(rows)
    return project, users, truth


def units(truth, labels, multi):
    """task -> annotator -> categories of the task's units (the reference's own reading of the rules)."""
    out = {}
    for task, by in truth.items():
        out[task] = {}
        for user, value in by.items():
            out[task][user] = ([("yes" if label in value else "no") for label in labels] if multi else [value[0]])
    return out


def check_against_references(result, users, per_task, overlap):
    by_id = {u.pk: u for u in users}
    ids = sorted(by_id, key=lambda pk: by_id[pk].username)
    pair_values = {}
    for a, b in combinations(ids, 2):
        common = [t for t in per_task if a in per_task[t] and b in per_task[t]]
        la = [c for t in common for c in per_task[t][a]]
        lb = [c for t in common for c in per_task[t][b]]
        reference = quiet(cohen_kappa_score, la, lb) if la else float("nan")
        ours = next(p for p in result["pairs"] if {p["a"], p["b"]} == {a, b})
        assert close(ours["value"], reference), (ours, reference)
        assert ours["n"] == len(la) and ours["tasks"] == len(common)
        if ours["value"] is None:
            assert ours["reason"]
        pair_values[(a, b)] = pair_values[(b, a)] = ours["value"]
    for entry in result["annotators"]:
        defined = [pair_values[(entry["id"], b)] for b in ids if b != entry["id"] and pair_values[(entry["id"], b)] is not None]
        assert close(entry["mean_kappa"], sum(defined) / len(defined) if defined else None)
    # Fleiss over the tasks with exactly `overlap` annotations
    full = [t for t in per_task if len(per_task[t]) == overlap]
    matrix = [list(unit) for t in full for unit in zip(*per_task[t].values(), strict=True)]
    if matrix:
        codes = {c: i for i, c in enumerate(sorted({c for row in matrix for c in row}))}
        table, _ = aggregate_raters(np.array([[codes[c] for c in row] for row in matrix]))
        assert close(result["fleiss"]["value"], quiet(sm_fleiss, table, method="fleiss"))
        assert result["fleiss"]["n"] == len(matrix) and result["fleiss"]["tasks"] == len(full)
    else:
        assert result["fleiss"]["value"] is None and result["fleiss"]["reason"]
    # Krippendorff over all raters × all units, missing as NaN
    all_units = [(t, i) for t in sorted(per_task) if len(per_task[t]) >= 2
                 for i in range(len(next(iter(per_task[t].values()))))]
    values = sorted({c for t in per_task for cats in per_task[t].values() for c in cats})
    codes = {c: float(i) for i, c in enumerate(values)}
    data = np.array([[codes[per_task[t][u][i]] if u in per_task[t] else np.nan for t, i in all_units] for u in ids])
    if len({v for v in data.flatten() if not np.isnan(v)}) < 2 or not all_units:
        reference = float("nan")
    else:
        reference = quiet(krippendorff.alpha, reliability_data=data, level_of_measurement="nominal")
    assert close(result["krippendorff"]["value"], reference), (result["krippendorff"], reference)


@pytest.mark.parametrize("seed", range(6))
def test_single_label_agreement_equals_references(lw, world, seed):
    rng = random.Random(seed)
    raters, overlap = rng.randint(3, 5), rng.randint(2, 3)
    labels = ["pos", "neg", "neu", "mix"][: rng.randint(2, 4)]
    project, users, truth = random_project(lw, world, rng, tasks=rng.randint(8, 40), raters=raters, overlap=overlap,
                                           labels=labels, incomplete=0.25 if seed % 2 else 0.0)
    result = project_agreement(project)
    check_against_references(result, users, units(truth, labels, False), overlap)


@pytest.mark.parametrize("seed", range(3))
def test_multi_label_agreement_equals_references(lw, world, seed):
    rng = random.Random(100 + seed)
    labels = ["a", "b", "c"]
    project, users, truth = random_project(lw, world, rng, tasks=rng.randint(6, 25), raters=3, overlap=2,
                                           labels=labels, multi=True)
    result = project_agreement(project)
    assert result["unit"] == "任务×标签"
    check_against_references(result, users, units(truth, labels, True), 2)


def test_entity_agreement_is_on_token_bio_tags(lw, world):
    texts = ["张三在上海工作", "Alice moved to New York", "李四和王五去了北京"]
    project = make_project(lw, kind="ner", labels=ENTITIES, overlap=2, annotators=("anna", "ben"))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(texts)))
    t1, t2, t3 = project.tasks.order_by("ordinal")
    spans = {
        (t1, "anna"): [{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "LOC"}],
        (t1, "ben"): [{"start": 0, "end": 2, "label": "PER"}],
        (t2, "anna"): [{"start": 0, "end": 5, "label": "PER"}, {"start": 15, "end": 23, "label": "LOC"}],
        (t2, "ben"): [{"start": 0, "end": 5, "label": "PER"}, {"start": 15, "end": 18, "label": "LOC"}],
        (t3, "anna"): [{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "PER"}],
        (t3, "ben"): [{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "ORG"},
                      {"start": 7, "end": 9, "label": "LOC"}],
    }
    for (task, name), value in spans.items():
        annotate(getattr(lw, name), task, spans=value)
    assert bio_tags(t1.text, spans[(t1, "anna")]) == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "O"]
    assert [t2.text[s:e] for s, e in tokens(t2.text)] == ["Alice", "moved", "to", "New", "York"]
    assert bio_tags(t2.text, spans[(t2, "anna")]) == ["B-PER", "O", "O", "B-LOC", "I-LOC"]
    assert bio_tags(t2.text, spans[(t2, "ben")]) == ["B-PER", "O", "O", "B-LOC", "O"]
    anna = [tag for t in (t1, t2, t3) for tag in bio_tags(t.text, spans[(t, "anna")])]
    ben = [tag for t in (t1, t2, t3) for tag in bio_tags(t.text, spans[(t, "ben")])]
    result = project_agreement(project)
    assert result["unit"] == "词元"
    (pair,) = result["pairs"]
    assert pair["n"] == len(anna) == 7 + 5 + 9 and pair["tasks"] == 3
    assert close(pair["value"], float(cohen_kappa_score(anna, ben)))
    codes = {c: float(i) for i, c in enumerate(sorted(set(anna + ben)))}
    alpha = krippendorff.alpha(reliability_data=[[codes[c] for c in anna], [codes[c] for c in ben]],
                               level_of_measurement="nominal")
    assert close(result["krippendorff"]["value"], float(alpha))
    table, _ = aggregate_raters(np.array([[codes[a], codes[b]] for a, b in zip(anna, ben, strict=True)]))
    assert close(result["fleiss"]["value"], float(sm_fleiss(table, method="fleiss")))


def test_undefined_values_say_why_and_are_never_zero(lw, world, client):
    project = make_project(lw, overlap=2, annotators=("anna", "ben", "cara"))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(["好", "很好", "非常好", "好极了"])))
    for task in project.tasks.all():
        for user in User.objects.filter(pk__in=task.assignments.values("annotator")):
            annotate(user, task, ["positive"])  # everyone always says the same: chance agreement is total
    result = project_agreement(project)
    assert result["fleiss"]["value"] is None and "同一个类别" in result["fleiss"]["reason"]
    assert result["krippendorff"]["value"] is None and "期望不一致为 0" in result["krippendorff"]["reason"]
    assert all(p["value"] is None and p["reason"] for p in result["pairs"])
    assert all(a["mean_kappa"] is None and a["reason"] for a in result["annotators"])
    client.force_login(lw.mona)
    page = client.get(f"/data/labeling/{project.pk}/agreement/").content.decode()
    assert "未定义" in page and "偶然一致已是 100%" in page and "0.000" not in page
    data = client.get(f"/data/labeling/{project.pk}/agreement/", {"format": "json"}).json()
    assert data["fleiss"]["value"] is None and data["fleiss"]["n"] == 4


def test_single_annotator_projects_and_partial_tasks(lw, world):
    single = make_project(lw, overlap=1, annotators=("anna",), name="单人项目")
    import_text(lw, single, add_file(world.paul, make_dataset(world), csv_bytes(["好", "坏"])))
    for task in single.tasks.all():
        annotate(lw.anna, task, ["positive"])
    result = project_agreement(single)
    assert result["fleiss"]["value"] is None and "至少 2 份" in result["fleiss"]["reason"]
    assert result["krippendorff"]["value"] is None and "还没有任务有 2 份以上" in result["krippendorff"]["reason"]
    assert result["pairs"] == [] and "没有与其他标注员共同标注" in result["annotators"][0]["reason"]
    triple = make_project(lw, overlap=3, annotators=("anna", "ben", "cara"), name="三人项目")
    import_text(lw, triple, add_file(world.paul, make_dataset(world, title="另一份"), csv_bytes(["好", "坏", "中"])))
    first, second, third = triple.tasks.order_by("ordinal")
    for user, label in ((lw.anna, "positive"), (lw.ben, "negative")):
        annotate(user, first, [label])
    result = project_agreement(triple)
    assert result["fleiss"]["value"] is None and "还没有任务集齐 3 份" in result["fleiss"]["reason"]
    assert result["fleiss"]["excluded_tasks"] == 1
    annotate(lw.cara, first, ["positive"])
    annotate(lw.anna, second, ["negative"])
    annotate(lw.ben, second, ["negative"])
    annotate(lw.cara, second, ["negative"])
    annotate(lw.anna, third, ["neutral"])
    result = project_agreement(triple)
    assert result["fleiss"]["tasks"] == 2 and result["fleiss"]["excluded_tasks"] == 1
    table, _ = aggregate_raters(np.array([[0, 1, 0], [1, 1, 1]]))
    assert close(result["fleiss"]["value"], float(sm_fleiss(table, method="fleiss")))
