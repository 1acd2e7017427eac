"""API of the labeling tools at /api/v1/data/labeling/: the same policies, forms and actions as the pages.

A project the caller may not see is a 404; one they see but may not change is a 403. Invalid input is
a 422 naming the field (a label outside the schema: `labels`; a bad span: `spans`)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from gaodi.apps.core.api import ERRORS, PageParams, api, current_user, page
from gaodi.apps.core.models import Organization, User
from gaodi.apps.core.permissions import can, get_visible_or_404, visible

from . import labeling_actions as actions
from . import labeling_exports
from .labeling_agreement import project_agreement
from .labeling_forms import AnnotationForm, AnnotatorForm, DecisionForm, ImportForm, ProjectApiForm
from .labeling_models import (
    Annotation,
    LabelingProject,
    LabelingTask,
    ProjectAnnotator,
    ReviewDecision,
    TaskImport,
)
from .labeling_policies import usable_versions

router = Router(tags=["labeling 数据标注"])


class LabelIn(Schema):
    value: str = Field(..., description="标签值（导出用，不含空白和 |）Stored value")
    name: str = Field("", description="显示名 Display name (default: the value)")
    key: str = Field("", description="快捷键 0-9 或 a-z（空：自动分配）Keyboard shortcut")


class ProjectIn(Schema):
    name: str
    kind: str = Field(..., description="text_classification, ner, image_classification")
    multi_label: bool = False
    overlap: int = Field(2, description="每个任务的标注人数 Annotators per task (1-10)")
    description: str = ""
    instructions: str = ""
    labels: list[LabelIn]


class ProjectCreateIn(ProjectIn):
    organization: int = Field(..., description="所属机构 ID Owning organization")


class ProjectOut(Schema):
    id: int
    organization_id: int
    organization: str
    name: str
    kind: str
    multi_label: bool
    overlap: int
    labels: list[dict]
    description: str
    instructions: str
    closed: bool
    tasks: int
    created_at: datetime


class AnnotatorIn(Schema):
    username: str


class AnnotatorOut(Schema):
    user_id: int
    username: str
    active: bool


class ImportIn(Schema):
    version_id: int
    text_column: str = ""
    id_column: str = ""
    skip_bad_rows: bool = False


class ImportOut(Schema):
    id: int
    project_id: int
    version_id: int
    state: str = Field(..., description="pending, running, done, failed")
    progress: int
    created: int
    skipped: int
    skipped_samples: list[dict]
    error: str


class TaskOut(Schema):
    id: int
    project_id: int
    ordinal: int
    state: str = Field(..., description="open, complete, decided")
    text: str
    image_url: str | None
    image_name: str
    source_id: str
    source_row: int | None
    annotation_count: int
    disagreement: bool
    final: list | None
    decided_by: str | None
    decided_at: datetime | None


class AnnotationIn(Schema):
    labels: list[str] | None = Field(None, description="分类：标签值列表 Classification: label values")
    spans: list[dict] | None = Field(None, description="实体：[{start, end, label}]，字符位置，end 不含 Entities")


class AnnotationOut(Schema):
    id: int
    task_id: int
    annotator: str
    value: list
    updated_at: datetime


class DecisionIn(AnnotationIn):
    accept: int | None = Field(None, description="采纳的标注 ID（与 labels/spans 二选一）Annotation to accept")
    note: str = ""


class DecisionOut(Schema):
    id: int
    task_id: int
    value: list
    accepted_annotation_id: int | None
    decided_by: str
    note: str
    created_at: datetime


class TaskFilters(Schema):
    state: str = ""
    mine: bool = Field(False, description="只看分配给我的 Only tasks assigned to me")


class ExportParams(Schema):
    format: str = Field("jsonl", description="jsonl, csv, conll (NER only)")
    scope: str = Field("final", description="final（最终标注）or all（全部标注）")


def _project_out(p: LabelingProject) -> dict:
    return {"id": p.pk, "organization_id": p.organization_id, "organization": p.organization.name, "name": p.name,
            "kind": p.kind, "multi_label": p.multi_label, "overlap": p.overlap, "labels": p.labels,
            "description": p.description, "instructions": p.instructions, "closed": p.closed_at is not None,
            "tasks": p.tasks.count(), "created_at": p.created_at}


def _import_out(b: TaskImport) -> dict:
    return {"id": b.pk, "project_id": b.project_id, "version_id": b.version_id, "state": b.state,
            "progress": b.progress, "created": b.created_count, "skipped": b.skipped_count,
            "skipped_samples": b.skipped_samples, "error": b.error}


def _task_out(t: LabelingTask) -> dict:
    return {"id": t.pk, "project_id": t.project_id, "ordinal": t.ordinal, "state": t.state, "text": t.text,
            "image_url": reverse("data:labeling_task_image", args=[t.pk]) if t.image else None,
            "image_name": t.image_name, "source_id": t.source_id, "source_row": t.source_row,
            "annotation_count": t.annotation_count, "disagreement": t.disagreement, "final": t.final,
            "decided_by": t.decided_by.username if t.decided_by else None, "decided_at": t.decided_at}


def _annotation_out(a: Annotation) -> dict:
    return {"id": a.pk, "task_id": a.task_id, "annotator": a.annotator.username, "value": a.value,
            "updated_at": a.updated_at}


def _decision_out(d: ReviewDecision) -> dict:
    return {"id": d.pk, "task_id": d.task_id, "value": d.value, "accepted_annotation_id": d.accepted_id,
            "decided_by": d.decided_by.username, "note": d.note, "created_at": d.created_at}


def _project(request, project_id: int) -> LabelingProject:
    return get_visible_or_404(current_user(request), LabelingProject, pk=project_id)


def _form_data(body: ProjectIn) -> dict:
    data = body.dict()
    data["labels"] = [label.dict() if hasattr(label, "dict") else label for label in body.labels]
    return data


@router.get("/projects", response=dict, summary="我可见的标注项目 Labeling projects I may see")
def list_projects(request, params: PageParams = Query(...)):  # noqa: B008
    qs = visible(current_user(request), LabelingProject).select_related("organization").order_by("-created_at", "-id")
    return page(qs, params, _project_out)


@router.post("/projects", response={201: ProjectOut, **ERRORS}, summary="新建标注项目 Create a project")
def create_project(request, body: ProjectCreateIn):
    user = current_user(request)
    organization = Organization.objects.filter(pk=body.organization).first()
    if organization is None:
        raise ValidationError({"organization": _("没有这个机构。")})
    return Status(201, _project_out(actions.create_project(user, organization, ProjectApiForm(data=_form_data(body)))))


@router.get("/projects/{project_id}", response={200: ProjectOut, **ERRORS}, summary="标注项目 Project")
def get_project(request, project_id: int):
    return _project_out(_project(request, project_id))


@router.put("/projects/{project_id}", response={200: ProjectOut, **ERRORS}, summary="修改项目 Update a project")
def update_project(request, project_id: int, body: ProjectIn):
    project = _project(request, project_id)
    return _project_out(actions.update_project(current_user(request), project, ProjectApiForm(data=_form_data(body))))


@router.post("/projects/{project_id}/annotators", response={201: AnnotatorOut, **ERRORS},
             summary="添加标注员 Add an annotator")
def add_annotator(request, project_id: int, body: AnnotatorIn):
    project = _project(request, project_id)
    a = actions.add_annotator(current_user(request), project, AnnotatorForm(data=body.dict()))
    return Status(201, {"user_id": a.user_id, "username": a.user.username, "active": a.active})


@router.get("/projects/{project_id}/annotators", response={200: list[AnnotatorOut], **ERRORS},
            summary="标注员 Annotators")
def list_annotators(request, project_id: int):
    project = _project(request, project_id)
    return [{"user_id": a.user_id, "username": a.user.username, "active": a.active}
            for a in ProjectAnnotator.objects.filter(project=project).select_related("user")]


@router.delete("/projects/{project_id}/annotators/{user_id}", response={200: dict, **ERRORS},
               summary="停用标注员 Stop assigning to an annotator")
def remove_annotator(request, project_id: int, user_id: int):
    project = _project(request, project_id)
    person = User.objects.filter(pk=user_id).first()
    if person is None:
        raise ValidationError({"user_id": _("没有这个用户。")})
    return {"withdrawn": actions.remove_annotator(current_user(request), project, person)}


@router.post("/projects/{project_id}/imports", response={201: ImportOut, **ERRORS},
             summary="从数据集版本导入任务 Import tasks from a dataset version")
def start_import(request, project_id: int, body: ImportIn):
    user = current_user(request)
    project = _project(request, project_id)
    if not can(user, "manage", project):
        raise PermissionDenied("manage")
    data = {"version": body.version_id, "text_column": body.text_column, "id_column": body.id_column,
            "skip_bad_rows": body.skip_bad_rows}
    form = ImportForm(data=data, project=project, versions=usable_versions(user, project))
    return Status(201, _import_out(actions.start_import(user, project, form)))


@router.get("/imports/{import_id}", response={200: ImportOut, **ERRORS}, summary="导入进度 Import progress")
def get_import(request, import_id: int):
    batch = TaskImport.objects.select_related("project").filter(pk=import_id).first()
    if batch is None or not can(current_user(request), "agreement", batch.project):
        raise Http404
    return _import_out(batch)


@router.post("/projects/{project_id}/assign", response={200: dict, **ERRORS}, summary="分配任务 Assign tasks")
def assign(request, project_id: int):
    project = _project(request, project_id)
    return {"assignments": actions.assign_tasks(current_user(request), project)}


@router.post("/projects/{project_id}/close", response={200: ProjectOut, **ERRORS}, summary="结项 Close")
def close(request, project_id: int):
    return _project_out(actions.close_project(current_user(request), _project(request, project_id)))


@router.post("/projects/{project_id}/reopen", response={200: ProjectOut, **ERRORS}, summary="重新开放 Reopen")
def reopen(request, project_id: int):
    return _project_out(actions.reopen_project(current_user(request), _project(request, project_id)))


@router.get("/projects/{project_id}/tasks", response={200: dict, **ERRORS},
            summary="任务（标注员只见分配给自己的）Tasks (annotators see their own)")
def list_tasks(request, project_id: int, filters: TaskFilters = Query(...), params: PageParams = Query(...)):  # noqa: B008
    user = current_user(request)
    project = _project(request, project_id)
    qs = visible(user, LabelingTask).filter(project=project).select_related("decided_by").order_by("ordinal")
    if filters.mine:
        qs = qs.filter(assignments__annotator=user)
    if filters.state:
        qs = qs.filter(state=filters.state)
    return page(qs, params, _task_out)


@router.get("/projects/{project_id}/next", response={200: dict, **ERRORS}, summary="我的下一个任务 My next task")
def next_task(request, project_id: int, after: int = 0):
    user = current_user(request)
    task = actions.next_task(user, _project(request, project_id), after)
    return {"task": _task_out(task) if task else None}


@router.get("/tasks/{task_id}", response={200: TaskOut, **ERRORS}, summary="任务 Task")
def get_task(request, task_id: int):
    return _task_out(get_visible_or_404(current_user(request), LabelingTask, pk=task_id))


@router.api_operation(["PUT", "POST"], "/tasks/{task_id}/annotation", response={200: AnnotationOut, **ERRORS},
                      summary="保存我的标注（新建或修改）Save my annotation (create or change)")
def put_annotation(request, task_id: int, body: AnnotationIn):
    user = current_user(request)
    task = get_visible_or_404(user, LabelingTask, pk=task_id)
    form = AnnotationForm(data={"labels": body.labels or [], "spans": body.spans}, task=task)
    return _annotation_out(actions.save_annotation(user, task, form))


@router.get("/tasks/{task_id}/annotations", response={200: list[AnnotationOut], **ERRORS},
            summary="任务的标注（标注员只见自己的）Annotations of a task")
def list_annotations(request, task_id: int):
    user = current_user(request)
    task = get_visible_or_404(user, LabelingTask, pk=task_id)
    qs = visible(user, Annotation).filter(task=task).select_related("annotator").order_by("annotator__username")
    return [_annotation_out(a) for a in qs]


@router.post("/tasks/{task_id}/decision", response={201: DecisionOut, **ERRORS},
             summary="审核裁定最终标注 Decide the final label")
def decide(request, task_id: int, body: DecisionIn):
    user = current_user(request)
    task = get_visible_or_404(user, LabelingTask, pk=task_id)
    form = DecisionForm(data={"accept": body.accept, "labels": body.labels or [], "spans": body.spans,
                              "note": body.note}, task=task)
    return Status(201, _decision_out(actions.decide_task(user, task, form)))


@router.get("/tasks/{task_id}/decisions", response={200: list[DecisionOut], **ERRORS},
            summary="裁定记录 Decision history")
def list_decisions(request, task_id: int):
    user = current_user(request)
    task = get_visible_or_404(user, LabelingTask, pk=task_id)
    if not can(user, "review", task) and not can(user, "agreement", task.project):
        raise PermissionDenied("review")
    return [_decision_out(d) for d in task.decisions.select_related("decided_by")]


@router.get("/projects/{project_id}/agreement", response={200: dict, **ERRORS},
            summary="标注一致性 Inter-annotator agreement")
def agreement(request, project_id: int):
    user = current_user(request)
    project = _project(request, project_id)
    if not can(user, "agreement", project):
        raise PermissionDenied("agreement")
    return project_agreement(project)


@router.get("/projects/{project_id}/export", response={200: None, **ERRORS},
            summary="导出 Export (JSON Lines, CSV, CoNLL)")
def export(request, project_id: int, params: ExportParams = Query(...)):  # noqa: B008
    user = current_user(request)
    project = _project(request, project_id)
    if not can(user, "export", project):
        raise PermissionDenied("export")
    labeling_exports.check(project, params.format, params.scope)
    return labeling_exports.response(project, params.format, params.scope)


api.add_router("/data/labeling", router)
