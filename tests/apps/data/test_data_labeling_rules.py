"""Labeling rules: schemas, imports from dataset versions, balanced assignment with overlap, annotation
checks (nothing saved is lost), the reviewer's insert-only decisions, and who may do what."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from test_data_labeling_support import (
    ENTITIES,
    SENTIMENT,
    TEXTS,
    add_file,
    annotate,
    build_labeling_world,
    csv_bytes,
    import_text,
    make_dataset,
    make_project,
    stored_as,
)

from gaodi.apps.core.models import AuditEntry, WorkflowHistory
from gaodi.apps.data import labeling_actions as actions
from gaodi.apps.data.labeling_forms import AnnotatorForm, DecisionForm, ProjectForm
from gaodi.apps.data.labeling_models import Annotation, Assignment, ReviewDecision, TaskState
from gaodi.apps.data.labeling_schema import parse_label_lines, validate_labels
from gaodi.apps.data.models import Grant


@pytest.fixture
def lw(world):
    return build_labeling_world(world)


def labelled(lw, project):
    """(task, [annotators]) in ordinal order."""
    return [(t, sorted(t.assignments.values_list("annotator__username", flat=True))) for t in project.tasks.order_by("ordinal")]


# ---- schemas ------------------------------------------------------------------------------------

def test_label_schema_is_validated_with_line_numbers():
    labels = validate_labels(parse_label_lines("pos | 正面\nneg | 负面 | n\n\nneu"), "text_classification")
    assert labels == [{"value": "pos", "name": "正面", "key": "1"}, {"value": "neg", "name": "负面", "key": "n"},
                      {"value": "neu", "name": "neu", "key": "2"}]
    cases = {
        "pos\npos": "第 2 行：标签值“pos”重复",
        "a b | 甲\nc": "不能包含空白",
        "a | 甲 | 1\nb | 乙 | 1": "快捷键“1”已被其他标签使用",
        "a | 甲 | 12\nb": "快捷键“12”无效",
        "a | 甲\nb | 甲": "显示名“甲”重复",
        "only": "请至少定义 2 个标签",
        "a|b|c|d": "最多三项",
    }
    for text, message in cases.items():
        with pytest.raises(ValidationError) as exc:
            validate_labels(parse_label_lines(text), "text_classification")
        assert any(message in m for m in exc.value.message_dict["labels"]), (text, exc.value.message_dict)
    with pytest.raises(ValidationError, match="不能叫“O”"):
        validate_labels(parse_label_lines("O\nPER"), "ner")
    assert len(validate_labels(parse_label_lines("PER"), "ner")) == 1
    too_many = "\n".join(f"l{i}" for i in range(37))
    with pytest.raises(ValidationError, match="不能超过 36"):
        validate_labels(parse_label_lines(too_many), "text_classification")
    keys = [label["key"] for label in validate_labels(parse_label_lines("\n".join(f"l{i}" for i in range(36))),
                                                       "text_classification")]
    assert keys[:10] == list("1234567890") and keys[10] == "a" and len(set(keys)) == 36


def test_project_form_errors_name_the_field(lw):
    form = ProjectForm(data={"name": "x", "kind": "ner", "labels_text": "PER\nPER", "overlap": 2, "multi_label": "on"})
    assert not form.is_valid()
    assert "重复" in form.errors["labels_text"][0] and "多标签" in form.errors["multi_label"][0]
    form = ProjectForm(data={"name": "x", "kind": "text_classification", "labels_text": SENTIMENT, "overlap": 11})
    assert not form.is_valid() and "overlap" in form.errors


def test_only_managers_create_projects(lw):
    data = {"name": "x", "kind": "text_classification", "labels_text": SENTIMENT, "overlap": 2}
    with pytest.raises(PermissionDenied):
        actions.create_project(lw.anna, lw.org, ProjectForm(data=data))  # a plain member annotates, not manages
    with pytest.raises(PermissionDenied):
        actions.create_project(lw.mona, lw.other, ProjectForm(data=data))
    assert actions.create_project(lw.mona, lw.org, ProjectForm(data=data)).labels[0]["key"] == "1"


# ---- imports ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "gb18030"])
def test_csv_import_in_chinese_encodings(lw, world, encoding):
    extra = [] if encoding == "gbk" else ["䶮字"]  # 䶮 (CJK extension A) is in GB18030, not in GBK
    version = add_file(world.paul, make_dataset(world), csv_bytes([*TEXTS, "", *extra], encoding))
    project = make_project(lw)
    batch = import_text(lw, project, version)
    assert batch.state == "done", batch.error
    assert [t.text for t in project.tasks.order_by("ordinal")] == TEXTS + extra
    assert batch.skipped_count == 1 and batch.skipped_samples[0]["row"] == len(TEXTS) + 1
    first = project.tasks.get(ordinal=1)
    assert (first.source_id, first.source_row) == ("1", 1)


def test_jsonl_import_and_missing_column(lw, world):
    lines = [json.dumps({"id": i, "content": t}, ensure_ascii=False) for i, t in enumerate(TEXTS)]
    version = add_file(world.paul, make_dataset(world), ("\n".join(lines) + "\n").encode(), "reviews.jsonl")
    project = make_project(lw)
    failed = import_text(lw, project, version, column="text", id_column="")
    assert failed.state == "failed" and "没有名为“text”的列" in failed.error and "content" in failed.error
    assert project.tasks.count() == 0
    batch = import_text(lw, project, version, column="content", id_column="id")
    assert batch.state == "done" and project.tasks.count() == len(TEXTS)
    assert project.tasks.get(ordinal=2).source_id == "1"
    with pytest.raises(ValidationError, match="已经导入过"):
        import_text(lw, project, version, column="content", id_column="id")


def test_bad_files_fail_cleanly_and_keep_earlier_tasks(lw, world):
    project = make_project(lw)
    good = add_file(world.paul, make_dataset(world), csv_bytes(TEXTS))
    import_text(lw, project, good)
    before = list(project.tasks.values_list("pk", "text"))
    mixed = ("编号,评论\n1,你好\n".encode() + "2,再见\n".encode("gbk"))
    stored = stored_as(add_file(world.paul, make_dataset(world, title="混合编码"), csv_bytes(TEXTS)), mixed)
    bad = import_text(lw, project, stored)
    assert bad.state == "failed" and "line 3" in bad.error and "\n" not in bad.error
    ragged = "编号,评论\n1,好\n2,坏,多余\n3,一般\n".encode()
    ragged_version = stored_as(add_file(world.paul, make_dataset(world, title="错行"), csv_bytes(TEXTS)), ragged)
    failed = import_text(lw, project, ragged_version)
    assert failed.state == "failed" and "line 3" in failed.error and "expected 2 fields, found 3" in failed.error
    assert list(project.tasks.values_list("pk", "text")) == before
    skipped = import_text(lw, project, ragged_version, skip_bad_rows=True)
    assert skipped.state == "done" and skipped.created_count == 2 and skipped.skipped_count == 1
    assert skipped.skipped_samples[0]["line"] == 3


def test_long_texts_are_skipped_not_cut(lw, world, settings):
    settings.GAODI_LABELING_MAX_TEXT_CHARS = 5
    project = make_project(lw)
    batch = import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(["短句", "这一句超过五个字了"])))
    assert batch.created_count == 1 and "超过上限 5" in batch.skipped_samples[0]["reason"]


def test_data_access_rules_for_imports(lw, world):
    from gaodi.apps.data import actions as data_actions
    from gaodi.apps.data.forms import ApplicationForm

    conditional = make_dataset(world, open_type="conditional", title="有条件数据")
    version = add_file(world.paul, conditional, csv_bytes(TEXTS))
    closed = add_file(world.paul, make_dataset(world, open_type="not_open", title="不开放数据"), csv_bytes(TEXTS))
    project = make_project(lw)
    for v in (version, closed):
        with pytest.raises(ValidationError) as exc:
            import_text(lw, project, v)
        assert "version" in exc.value.message_dict  # not among the versions this project may use
    form = ApplicationForm(data={"organization": "", "purpose": "为情感分析模型标注训练数据。", "scenario": "标注",
                                 "security_measures": "专网", "term_days": 30},
                           enterprises=type(lw.org).objects.none())
    application = data_actions.apply_for_access(lw.mona, conditional, form)
    data_actions.decide_application(world.rita, application, "approve")
    assert import_text(lw, project, version).state == "done"  # the manager's own grant
    Grant.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError):
        import_text(lw, project, version, column="编号")


# ---- assignment ---------------------------------------------------------------------------------

def test_assignment_is_balanced_distinct_and_deterministic(lw, world):
    version = add_file(world.paul, make_dataset(world), csv_bytes([f"第{i}条评论" for i in range(7)]))
    projects = []
    for name in ("甲项目", "乙项目"):
        project = make_project(lw, overlap=2, name=name, annotators=("anna", "ben", "cara", "dan"))
        import_text(lw, project, version)
        projects.append(project)
    first, second = (labelled(lw, p) for p in projects)
    assert [a for _t, a in first] == [a for _t, a in second]  # same input, same assignment
    assert all(len(set(a)) == 2 for _t, a in first)
    load = Counter(name for _t, a in first for name in a)
    assert sum(load.values()) == 14 and max(load.values()) - min(load.values()) <= 1
    assert actions.assign_tasks(lw.mona, projects[0]) == 0  # nothing left to assign


def test_plan_assignments_rotates_ties():
    pairs = actions.plan_assignments([(t, t, set()) for t in range(1, 9)], [10, 20, 30, 40], 2, {})
    load = Counter(a for _t, a in pairs)
    assert set(load.values()) == {4}
    assert len({(t, a) for t, a in pairs}) == 16
    assert actions.plan_assignments([(1, 1, {10})], [10, 20, 30], 2, {20: 5, 30: 1}) == [(1, 30)]


def test_too_few_annotators_is_a_clear_error(lw, world):
    project = make_project(lw, overlap=3, annotators=("anna", "ben"))
    batch = import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(TEXTS)))
    assert batch.state == "done" and Assignment.objects.count() == 0  # imported, waiting for annotators
    with pytest.raises(ValidationError) as exc:
        actions.assign_tasks(lw.mona, project)
    assert "只有 2 名在岗标注员" in exc.value.message_dict["overlap"][0]
    actions.add_annotator(lw.mona, project, AnnotatorForm(data={"username": "cara"}))
    assert actions.assign_tasks(lw.mona, project) == 3 * len(TEXTS)
    with pytest.raises(ValidationError, match="不是上海数标标注服务有限公司的成员"):
        actions.add_annotator(lw.mona, project, AnnotatorForm(data={"username": "oscar"}))
    with pytest.raises(ValidationError, match="已经是本项目的标注员"):
        actions.add_annotator(lw.mona, project, AnnotatorForm(data={"username": "cara"}))


def test_removing_an_annotator_withdraws_open_assignments(lw, world):
    project = make_project(lw, overlap=2, annotators=("anna", "ben", "cara"))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(TEXTS)))
    anna_tasks = list(actions.queue(lw.anna, project))
    annotate(lw.anna, anna_tasks[0], ["positive"])
    withdrawn = actions.remove_annotator(lw.mona, project, lw.anna)
    assert withdrawn == len(anna_tasks) - 1
    assert list(actions.queue(lw.anna, project)) == [anna_tasks[0]]  # the annotated one stays hers
    assert actions.assign_tasks(lw.mona, project) == withdrawn
    assert all(t.assignments.count() == 2 for t in project.tasks.all())
    with pytest.raises(PermissionDenied):
        annotate(lw.anna, anna_tasks[0], ["negative"])


# ---- annotating ---------------------------------------------------------------------------------

@pytest.fixture
def text_project(lw, world):
    project = make_project(lw, overlap=2, annotators=("anna", "ben", "cara"))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(TEXTS)))
    return project


def test_annotators_see_only_their_queue(lw, text_project, client):
    from gaodi.apps.core.permissions import visible
    from gaodi.apps.data.labeling_models import LabelingTask

    mine = set(actions.queue(lw.anna, text_project).values_list("pk", flat=True))
    assert set(visible(lw.anna, LabelingTask).values_list("pk", flat=True)) == mine
    assert 0 < len(mine) < text_project.tasks.count()
    foreign = text_project.tasks.exclude(pk__in=mine).first()
    client.force_login(lw.anna)
    assert client.get(f"/data/labeling/tasks/{foreign.pk}/").status_code == 404
    assert client.post(f"/data/labeling/tasks/{foreign.pk}/", {"labels": "positive"}).status_code == 404
    with pytest.raises(PermissionDenied, match="没有分配给您"):
        annotate(lw.anna, foreign, ["positive"])
    assert not Annotation.objects.exists()
    # the manager sees every task but may not annotate one not assigned to her
    client.force_login(lw.mona)
    page = client.post(f"/data/labeling/tasks/{foreign.pk}/", {"labels": "positive"})
    assert page.status_code == 403 and "该任务没有分配给您" in page.content.decode()
    assert not Annotation.objects.exists()


def test_label_outside_schema_is_refused_and_saved_value_kept(lw, text_project, client):
    task = actions.queue(lw.anna, text_project).first()
    annotate(lw.anna, task, ["positive"])
    for labels, message in ((["spam"], "标签“spam”不在本项目的标签集中"), (["positive", "negative"], "恰好选择一个标签"),
                            ([], "恰好选择一个标签")):
        with pytest.raises(ValidationError) as exc:
            annotate(lw.anna, task, labels)
        assert message in exc.value.message_dict["labels"][0]
    assert Annotation.objects.get(task=task, annotator=lw.anna).value == ["positive"]
    client.force_login(lw.anna)
    page = client.post(f"/data/labeling/tasks/{task.pk}/", {"labels": "spam"})
    body = page.content.decode()
    assert page.status_code == 400 and "不在本项目的标签集中" in body and "您之前保存的标注没有改变" in body
    assert Annotation.objects.get(task=task, annotator=lw.anna).value == ["positive"]
    changed = client.post(f"/data/labeling/tasks/{task.pk}/", {"labels": "negative"})
    assert changed.status_code == 302
    assert Annotation.objects.get(task=task, annotator=lw.anna).value == ["negative"]
    entry = AuditEntry.objects.filter(action="data.labeling.annotate").order_by("-id").first()
    assert entry.data["previous"] == ["positive"] and entry.data["value"] == ["negative"]


def test_multi_label_values_are_ordered_and_checked(lw, world):
    project = make_project(lw, multi=True, overlap=1, annotators=("anna",))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(TEXTS)))
    task = actions.queue(lw.anna, project).first()
    assert annotate(lw.anna, task, ["neutral", "positive"]).value == ["positive", "neutral"]
    with pytest.raises(ValidationError, match="选了两次"):
        annotate(lw.anna, task, ["neutral", "neutral"])
    assert annotate(lw.anna, task, []).value == []  # "none of these applies"


def test_completion_disagreement_and_next_task(lw, text_project):
    task = text_project.tasks.get(ordinal=1)
    first, second = (type(lw.anna).objects.get(username=u) for u in
                     sorted(task.assignments.values_list("annotator__username", flat=True)))
    annotate(first, task, ["positive"])
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.disagreement) == (TaskState.OPEN, 1, False)
    annotate(second, task, ["negative"])
    task.refresh_from_db()
    assert (task.state, task.annotation_count, task.disagreement) == (TaskState.COMPLETE, 2, True)
    history = WorkflowHistory.objects.get(object_id=task.pk, transition="complete")
    assert (history.from_state, history.to_state) == ("open", "complete")
    following = actions.next_task(first, text_project, after=task.ordinal)
    assert following is not None and following.ordinal > task.ordinal
    assert following.assignments.filter(annotator=first).exists()


def test_entity_spans_are_checked(lw, world):
    project = make_project(lw, kind="ner", labels=ENTITIES, overlap=1, annotators=("anna",))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(["张三在上海工作", "李四 去了 北京"])))
    task = project.tasks.get(ordinal=1)
    ok = annotate(lw.anna, task, spans=[{"start": 3, "end": 5, "label": "LOC"}, {"start": 0, "end": 2, "label": "PER"}])
    assert ok.value == [{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "LOC"}]
    bad = {
        "重叠": [{"start": 0, "end": 3, "label": "PER"}, {"start": 2, "end": 5, "label": "LOC"}],
        "超出文本范围": [{"start": 5, "end": 9, "label": "LOC"}],
        "不在本项目的标签集中": [{"start": 0, "end": 2, "label": "DATE"}],
        "须为整数": [{"start": "0", "end": 2, "label": "PER"}],
        "[2, 2)": [{"start": 2, "end": 2, "label": "PER"}],
    }
    for message, spans in bad.items():
        with pytest.raises(ValidationError) as exc:
            annotate(lw.anna, task, spans=spans)
        assert message in exc.value.message_dict["spans"][0], (message, exc.value.message_dict)
    spaced = project.tasks.get(ordinal=2)
    with pytest.raises(ValidationError, match="只包含空白"):
        annotate(lw.anna, spaced, spans=[{"start": 2, "end": 3, "label": "PER"}])
    assert Annotation.objects.get(task=task).value == ok.value  # nothing saved was lost
    assert not Annotation.objects.filter(task=spaced).exists()


# ---- reviewing ----------------------------------------------------------------------------------

def test_reviewer_decides_and_history_is_insert_only(lw, text_project, client):
    task = text_project.tasks.get(ordinal=1)
    users = [type(lw.anna).objects.get(username=u) for u in task.assignments.values_list("annotator__username", flat=True)]
    annotate(users[0], task, ["positive"])
    second = annotate(users[1], task, ["negative"])
    with pytest.raises(PermissionDenied):
        actions.decide_task(users[0], task, DecisionForm(data={"accept": second.pk}, task=task))
    decision = actions.decide_task(lw.rex, task, DecisionForm(data={"accept": second.pk, "note": "语气偏负面"}, task=task))
    task.refresh_from_db()
    assert task.state == TaskState.DECIDED and task.final == ["negative"] and task.decided_by == lw.rex
    assert decision.accepted_annotator == users[1]
    with pytest.raises(ValidationError, match="不在本项目的标签集中"):
        actions.decide_task(lw.rex, task, DecisionForm(data={"labels": ["spam"]}, task=task))
    actions.decide_task(lw.mona, task, DecisionForm(data={"labels": ["neutral"]}, task=task))  # admin reviews too
    task.refresh_from_db()
    assert task.final == ["neutral"] and task.decided_by == lw.mona
    rows = list(ReviewDecision.objects.filter(task=task).order_by("id").values_list("value", "decided_by__username"))
    assert rows == [(["negative"], "rex"), (["neutral"], "mona")]
    with pytest.raises(ValidationError, match="只能新增"):
        decision.note = "改写"
        decision.save()
    with pytest.raises(ValidationError, match="不能删除"):
        decision.delete()
    with pytest.raises(ValidationError, match="已由审核员裁定"):
        annotate(users[0], task, ["neutral"])
    assert WorkflowHistory.objects.filter(object_id=task.pk, transition="decide").count() == 2
    with pytest.raises(ValidationError, match="不属于此任务"):
        other = text_project.tasks.get(ordinal=2)
        actions.decide_task(lw.rex, other, DecisionForm(data={"accept": second.pk}, task=other))
    client.force_login(lw.oscar)  # another institution's reviewer
    assert client.get(f"/data/labeling/tasks/{task.pk}/review/").status_code == 404
    client.force_login(users[0])  # an annotator sees the task but may not review it
    assert client.get(f"/data/labeling/tasks/{task.pk}/review/").status_code == 404


def test_review_queue_puts_disagreement_first(lw, text_project):
    tasks = {t.ordinal: t for t in text_project.tasks.all()}
    pairs = {o: [type(lw.anna).objects.get(username=u) for u in t.assignments.values_list("annotator__username", flat=True)]
             for o, t in tasks.items()}
    annotate(pairs[1][0], tasks[1], ["positive"])
    annotate(pairs[1][1], tasks[1], ["positive"])
    annotate(pairs[4][0], tasks[4], ["positive"])
    annotate(pairs[4][1], tasks[4], ["negative"])
    annotate(pairs[5][0], tasks[5], ["neutral"])
    order = [t.ordinal for t in actions.review_queue(text_project)]
    assert order[:3] == [4, 1, 5]


def test_schema_changes_after_annotations_keep_used_labels(lw, text_project):
    task = actions.queue(lw.anna, text_project).first()
    annotate(lw.anna, task, ["positive"])

    def update(**kw):
        data = {"name": text_project.name, "kind": "text_classification", "overlap": 2, "labels_text": SENTIMENT, **kw}
        return actions.update_project(lw.mona, text_project, ProjectForm(data=data, instance=text_project))

    with pytest.raises(ValidationError, match="不能删除或改名标签值“positive”"):
        update(labels_text="good | 好\nnegative | 负面")
    with pytest.raises(ValidationError, match="不能再改标注类型"):
        update(kind="ner", labels_text="PER")
    with pytest.raises(ValidationError, match="单标签/多标签"):
        update(multi_label="on")
    project = update(labels_text="positive | 积极 | p\nnegative | 消极 | n\nneutral | 中性 | 3\nmixed | 复杂")
    assert project.label_names["positive"] == "积极" and project.label_values[-1] == "mixed"
    with pytest.raises(PermissionDenied):
        actions.update_project(lw.anna, text_project, ProjectForm(data={"name": "x"}))


def test_closed_project_refuses_annotations(lw, text_project):
    task = actions.queue(lw.anna, text_project).first()
    actions.close_project(lw.mona, text_project)
    with pytest.raises(ValidationError, match="已结项"):
        annotate(lw.anna, task, ["positive"])
    with pytest.raises(ValidationError, match="已经结项"):
        actions.close_project(lw.mona, text_project)
    actions.reopen_project(lw.mona, text_project)
    assert annotate(lw.anna, task, ["positive"]).value == ["positive"]
