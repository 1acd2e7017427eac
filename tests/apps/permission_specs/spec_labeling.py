"""Permission specs of the labeling tools (gaodi.apps.data labeling_*): projects, tasks and annotations.
(The matrix sends every write as POST; the API's PUT of a project is covered in test_data_labeling_api.)

The project belongs to the cyberspace office: paul (its publisher) manages it, rita (its reviewer) reviews
it, and two of its members annotate with overlap 1, so each task has one annotator and the other one is a
colleague on the same project to whom that task is foreign."""

from __future__ import annotations

# Relative on purpose: under pytest this package is `apps.permission_specs` (tests/ has no __init__.py).
from ..permission_matrix import LOGIN, Case, ModelSpec, register

CSV = "编号,评论\n1,服务很好\n2,物流太慢\n".encode()
LABELS = "positive | 正面 | 1\nnegative | 负面 | 2"
PROJECT_POST = {"name": "矩阵标注项目（改）", "kind": "text_classification", "labels_text": LABELS, "overlap": 1}


def _labeling(world):
    """The project, its first task, the task's annotator and the other annotator."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gaodi.apps.core.models import Membership, User
    from gaodi.apps.data import actions as data_actions
    from gaodi.apps.data import labeling_actions as actions
    from gaodi.apps.data.forms import DatasetForm, ResourceForm
    from gaodi.apps.data.labeling_forms import AnnotatorForm, ImportForm, ProjectForm
    from gaodi.apps.data.labeling_policies import usable_versions

    dataset = data_actions.create_dataset(world.paul, world.cyber, DatasetForm(data={
        "title": "矩阵评论数据", "description": "权限矩阵", "theme": "general", "licence": "CC BY 4.0",
        "update_frequency": "monthly", "spatial": "上海市", "open_type": "unconditional",
        "security_level": "general"}))
    resource = data_actions.add_resource(world.paul, dataset, ResourceForm(
        data={"name": "评论", "kind": "file"}, files={"file": SimpleUploadedFile("r.csv", CSV)}))
    project = actions.create_project(world.paul, world.cyber, ProjectForm(data={
        "name": "矩阵标注项目", "kind": "text_classification", "labels_text": LABELS, "overlap": 1}))
    people = []
    for name in ("ann1", "ann2"):
        user = User.objects.create_user(username=name, password="correct-horse-battery")
        Membership.objects.create(user=user, organization=world.cyber, role="member")
        actions.add_annotator(world.paul, project, AnnotatorForm(data={"username": name}))
        people.append(user)
    form = ImportForm(data={"version": resource.latest.pk, "text_column": "评论"}, project=project,
                      versions=usable_versions(world.paul, project))
    actions.start_import(world.paul, project, form)
    task = project.tasks.order_by("ordinal").first()
    assignee = task.assignments.get().annotator
    other = next(u for u in people if u != assignee)
    return project, task, assignee, other


def _project_snapshot(project):
    from gaodi.apps.data.labeling_models import Assignment, LabelingProject, TaskImport

    p = LabelingProject.objects.get(pk=project.pk)
    return (p.name, p.overlap, p.labels, p.closed_at, Assignment.objects.count(), TaskImport.objects.count())


def _task_snapshot(task):
    from gaodi.apps.data.labeling_models import Annotation, LabelingTask, ReviewDecision

    t = LabelingTask.objects.get(pk=task.pk)
    return (t.state, t.final, Annotation.objects.count(), ReviewDecision.objects.count())


def _u(name, *args):
    from django.urls import reverse

    return lambda obj: reverse(name, args=[obj.pk, *args])


def _as_manager(world, _mf):
    project, _task, _assignee, _other = _labeling(world)
    return project, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.paul, "other_org": world.ron}


register(ModelSpec(
    "data.labelingproject(manager)",
    _as_manager,
    _project_snapshot,
    [
        Case("public intro", "GET", lambda o: "/data/labeling/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("project page", "GET", _u("data:labeling_project"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit page", "GET", _u("data:labeling_edit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post", "POST", _u("data:labeling_edit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data=PROJECT_POST),
        Case("import page", "GET", _u("data:labeling_import"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("assign", "POST", _u("data:labeling_assign"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("close", "POST", _u("data:labeling_state", "close"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("add annotator", "POST", _u("data:labeling_annotator_add"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data={"username": "paul"}),
        Case("agreement page", "GET", _u("data:labeling_agreement"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("export", "GET", lambda o: f"/data/labeling/{o.pk}/export/?format=csv&scope=all",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("new project page", "GET", lambda o: "/data/labeling/new/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 403}),
        Case("api detail", "GET", lambda o: f"/api/v1/data/labeling/projects/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api assign", "POST", lambda o: f"/api/v1/data/labeling/projects/{o.pk}/assign",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api agreement", "GET", lambda o: f"/api/v1/data/labeling/projects/{o.pk}/agreement",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))


def _as_reviewer(world, _mf):
    project, _task, _assignee, _other = _labeling(world)
    return project, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.rita, "other_org": world.ron}


register(ModelSpec(
    "data.labelingproject(reviewer)",
    _as_reviewer,
    _project_snapshot,
    [
        Case("review queue", "GET", _u("data:labeling_review"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("agreement page", "GET", _u("data:labeling_agreement"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post (reviewers do not manage)", "POST", _u("data:labeling_edit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 404, "other_org": 404}, data=PROJECT_POST),
        Case("api close (reviewers do not manage)", "POST", lambda o: f"/api/v1/data/labeling/projects/{o.pk}/close",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, api=True),
    ],
))


def _as_annotator(world, _mf):
    project, _task, assignee, _other = _labeling(world)
    return project, {"anonymous": None, "unprivileged": world.nobody, "permitted": assignee, "other_org": world.alice}


register(ModelSpec(
    "data.labelingproject(annotator)",
    _as_annotator,
    _project_snapshot,
    [
        Case("project page", "GET", _u("data:labeling_project"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("my next task", "GET", _u("data:labeling_annotate"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("agreement (staff only)", "GET", _u("data:labeling_agreement"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 404, "other_org": 404}),
        Case("export (staff only)", "GET", lambda o: f"/data/labeling/{o.pk}/export/?format=jsonl&scope=all",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 404, "other_org": 404}),
        Case("assign (managers only)", "POST", _u("data:labeling_assign"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 404, "other_org": 404}),
        Case("api agreement", "GET", lambda o: f"/api/v1/data/labeling/projects/{o.pk}/agreement",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, api=True),
        Case("api export", "GET", lambda o: f"/api/v1/data/labeling/projects/{o.pk}/export?format=jsonl",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, api=True),
    ],
))


def _task_as_annotator(world, _mf):
    _project, task, assignee, other = _labeling(world)
    return task, {"anonymous": None, "unprivileged": world.nobody, "permitted": assignee, "other_org": other}


register(ModelSpec(
    "data.labelingtask(annotator)",
    _task_as_annotator,
    _task_snapshot,
    [
        Case("task page", "GET", _u("data:labeling_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("annotate", "POST", _u("data:labeling_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data={"labels": "positive"}),
        Case("annotate outside the schema", "POST", _u("data:labeling_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 400, "other_org": 404}, data={"labels": "spam"}),
        Case("review page (reviewers only)", "GET", _u("data:labeling_review_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 404, "other_org": 404}),
        Case("api detail", "GET", lambda o: f"/api/v1/data/labeling/tasks/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api annotate", "POST", lambda o: f"/api/v1/data/labeling/tasks/{o.pk}/annotation",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"labels": ["positive"]}, api=True),
        Case("api decide (reviewers only)", "POST", lambda o: f"/api/v1/data/labeling/tasks/{o.pk}/decision",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404},
             data={"labels": ["positive"]}, api=True),
    ],
))


def _task_as_reviewer(world, _mf):
    _project, task, _assignee, _other = _labeling(world)
    return task, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.rita, "other_org": world.ron}


register(ModelSpec(
    "data.labelingtask(reviewer)",
    _task_as_reviewer,
    _task_snapshot,
    [
        Case("review page", "GET", _u("data:labeling_review_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("decide", "POST", _u("data:labeling_review_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data={"labels": "negative"}),
        Case("annotate a task not assigned", "POST", _u("data:labeling_task"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404}, data={"labels": "positive"}),
        Case("api decide", "POST", lambda o: f"/api/v1/data/labeling/tasks/{o.pk}/decision",
             {"anonymous": 401, "unprivileged": 404, "permitted": 201, "other_org": 404},
             data={"labels": ["negative"], "note": "矩阵"}, api=True),
        Case("api annotate a task not assigned", "POST", lambda o: f"/api/v1/data/labeling/tasks/{o.pk}/annotation",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404},
             data={"labels": ["positive"]}, api=True),
    ],
))


def _annotation(world, _mf):
    from gaodi.apps.data import labeling_actions as actions
    from gaodi.apps.data.labeling_forms import AnnotationForm

    _project, task, assignee, other = _labeling(world)
    annotation = actions.save_annotation(assignee, task, AnnotationForm(data={"labels": ["positive"]}, task=task))
    return annotation, {"anonymous": None, "unprivileged": world.nobody, "permitted": assignee, "other_org": other}


register(ModelSpec(
    "data.annotation(labeling)",
    _annotation,
    lambda a: (type(a).objects.get(pk=a.pk).value, type(a).objects.count()),
    [
        Case("api annotations of the task", "GET", lambda o: f"/api/v1/data/labeling/tasks/{o.task_id}/annotations",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api change the annotation", "POST", lambda o: f"/api/v1/data/labeling/tasks/{o.task_id}/annotation",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"labels": ["negative"]}, api=True),
        Case("api change it outside the schema", "POST", lambda o: f"/api/v1/data/labeling/tasks/{o.task_id}/annotation",
             {"anonymous": 401, "unprivileged": 404, "permitted": 422, "other_org": 404},
             data={"labels": ["spam"]}, api=True),
    ],
))
