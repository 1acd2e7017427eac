"""Pages of the labeling tools: projects, imports, the keyboard-first annotation and review pages, the
agreement page and exports. Every write calls one action in labeling_actions."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaodi.apps.core.models import User
from gaodi.apps.core.permissions import can, get_visible_or_404, visible
from gaodi.apps.core.viewutils import error_messages, errors_to_form

from . import labeling_actions as actions
from . import labeling_exports
from .labeling_agreement import project_agreement
from .labeling_forms import (
    AnnotationForm,
    AnnotatorForm,
    DecisionForm,
    ImageArchiveForm,
    ImportForm,
    ProjectForm,
)
from .labeling_models import (
    Annotation,
    LabelingProject,
    LabelingTask,
    ProjectAnnotator,
    TaskImport,
    TaskState,
)
from .labeling_policies import usable_versions
from .labeling_workflows import LABELING_TASK
from .models import Resource, ResourceKind
from .policies import publisher_ids


def _project(request, pk: int) -> LabelingProject:
    return get_visible_or_404(request.user, LabelingProject, pk=pk)


def _require(request, perm: str, obj) -> None:
    if not can(request.user, perm, obj):
        raise Http404


def _flash_errors(request, exc: ValidationError) -> None:
    messages.error(request, "；".join(error_messages(exc)))


# ---- projects -----------------------------------------------------------------------------------

def home(request):
    """What the tools are (public), and the caller's projects."""
    managed = annotating = []
    if request.user.is_authenticated:
        projects = visible(request.user, LabelingProject).select_related("organization")
        annotating = [(p, actions.queue_stats(request.user, p))
                      for p in projects.filter(annotators__user=request.user, annotators__active=True)]
        managed = [p for p in projects if can(request.user, "agreement", p)]
    return render(request, "data/labeling/home.html", {
        "managed": managed, "annotating": annotating, "can_add": can(request.user, "add", model=LabelingProject)})


@login_required
def project_create(request):
    orgs = actions.organizations_for(request.user)
    if not orgs:
        raise PermissionDenied(_("只有机构的发布员或管理员可以创建标注项目。"))
    form = ProjectForm(request.POST or None)
    form.fields["organization"] = forms.ModelChoiceField(label=_("所属机构"), queryset=orgs, initial=orgs.first())
    form.order_fields(["organization", *[f for f in form.fields if f != "organization"]])
    if request.method == "POST" and form.is_valid():
        try:
            project = actions.create_project(request.user, form.cleaned_data["organization"], form)
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, _("标注项目已创建。下一步：添加标注员并导入任务。"))
            return redirect("data:labeling_project", pk=project.pk)
    return render(request, "data/labeling/form.html", {"form": form, "title": _("新建标注项目")})


@login_required
def project_edit(request, pk: int):
    project = _project(request, pk)
    _require(request, "manage", project)
    form = ProjectForm(request.POST or None, instance=LabelingProject.objects.get(pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_project(request.user, project, form)
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, _("项目设置已保存。"))
            return redirect("data:labeling_project", pk=pk)
    return render(request, "data/labeling/form.html", {"form": form, "title": _("修改标注项目"), "project": project})


@login_required
def project_detail(request, pk: int):
    project = _project(request, pk)
    is_manager = can(request.user, "manage", project)
    is_staff = can(request.user, "agreement", project)
    annotators = ProjectAnnotator.objects.filter(project=project)
    return render(request, "data/labeling/project.html", {
        "project": project, "is_manager": is_manager, "is_staff": is_staff,
        "is_reviewer": can(request.user, "review", project),
        "can_annotate": can(request.user, "annotate", project),
        "stats": actions.project_stats(project) if is_staff else None,
        "mine": actions.queue_stats(request.user, project) if annotators.filter(user=request.user).exists() else None,
        "imports": project.imports.select_related("version__resource__dataset")[:20] if is_staff else [],
        "annotator_form": AnnotatorForm(), "enough_annotators": annotators.filter(active=True).count() >= project.overlap,
    })


@login_required
@require_POST
def annotator_add(request, pk: int):
    project = _project(request, pk)
    _require(request, "manage", project)
    try:
        actions.add_annotator(request.user, project, AnnotatorForm(request.POST))
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("标注员已添加。"))
    return redirect("data:labeling_project", pk=pk)


@login_required
@require_POST
def annotator_remove(request, pk: int, user_id: int):
    project = _project(request, pk)
    _require(request, "manage", project)
    person = get_object_or_404(User, pk=user_id)
    try:
        withdrawn = actions.remove_annotator(request.user, project, person)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("已停止给该标注员分配任务，收回 %(n)d 个未完成的任务。") % {"n": withdrawn})
    return redirect("data:labeling_project", pk=pk)


@login_required
@require_POST
def assign(request, pk: int):
    project = _project(request, pk)
    _require(request, "manage", project)
    try:
        made = actions.assign_tasks(request.user, project)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("已分配 %(n)d 份任务。") % {"n": made} if made else _("没有需要分配的任务。"))
    return redirect("data:labeling_project", pk=pk)


@login_required
@require_POST
def project_close(request, pk: int, name: str):
    project = _project(request, pk)
    _require(request, "manage", project)
    handlers = {"close": actions.close_project, "reopen": actions.reopen_project}
    if name not in handlers:
        raise Http404
    try:
        handlers[name](request.user, project)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("项目已结项。") if name == "close" else _("项目已重新开放。"))
    return redirect("data:labeling_project", pk=pk)


# ---- data ---------------------------------------------------------------------------------------

@login_required
def import_create(request, pk: int):
    project = _project(request, pk)
    _require(request, "manage", project)
    versions = usable_versions(request.user, project).order_by("-created_at")
    form = ImportForm(request.POST or None, project=project, versions=versions)
    if request.method == "POST" and form.is_valid():
        try:
            batch = actions.start_import(request.user, project, form)
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            if batch.state == "failed":
                messages.error(request, _("导入失败：%(e)s") % {"e": batch.error})
            else:
                messages.success(request, _("导入已开始。") if batch.in_progress else _("已导入 %(n)d 个任务。")
                                 % {"n": batch.created_count})
            return redirect("data:labeling_project", pk=pk)
    archives = []
    if project.is_image:  # where the caller can add a zip of images as a new version
        archives = (Resource.objects.filter(dataset__publisher_id__in=publisher_ids(request.user), kind=ResourceKind.FILE)
                    .select_related("dataset").order_by("-dataset__updated_at", "pk")[:20])
    return render(request, "data/labeling/form.html", {
        "form": form, "title": _("导入任务：%(p)s") % {"p": project.name}, "project": project, "archives": archives,
        "intro": _("从数据集版本导入待标注的任务。文本项目选择 CSV（UTF-8、GBK 或 GB18030）、JSON Lines、Parquet 或 Excel "
                   "版本并填写文本列；图像项目选择图片压缩包版本。大文件在后台导入，项目页显示进度。")})


@login_required
def import_status(request, pk: int):
    batch = get_object_or_404(TaskImport.objects.select_related("project", "version__resource__dataset"), pk=pk)
    if not can(request.user, "agreement", batch.project):
        raise Http404
    return render(request, "data/labeling/includes/import_row.html", {"batch": batch})


@login_required
def image_archive(request, pk: int):
    resource = get_object_or_404(Resource.objects.select_related("dataset"), pk=pk)
    if not can(request.user, "change", resource.dataset):
        raise Http404
    form = ImageArchiveForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.add_image_archive(request.user, resource, form)
        except ValidationError as exc:
            errors_to_form(form, exc)
        else:
            messages.success(request, _("图片压缩包已作为新版本上传，可在图像分类项目中导入。"))
            return redirect("data:dataset_detail", pk=resource.dataset_id)
    return render(request, "data/labeling/form.html", {
        "form": form, "title": _("上传图片压缩包：%(r)s") % {"r": resource.name}, "multipart": True,
        "back_dataset": resource.dataset})


# ---- annotating ---------------------------------------------------------------------------------

def _queue_links(request, task: LabelingTask) -> dict:
    mine = actions.queue(request.user, task.project)
    return {
        "previous": mine.filter(ordinal__lt=task.ordinal).order_by("-ordinal").first(),
        "following": mine.filter(ordinal__gt=task.ordinal).first(),
        "position": mine.filter(ordinal__lte=task.ordinal).count(),
        "queue_size": mine.count(),
    }


def _widget_context(project: LabelingProject, task: LabelingTask, value) -> dict:
    selected = value if (value is not None and not project.is_ner) else []
    return {"labels": [{**label, "checked": label["value"] in selected} for label in project.labels],
            "spans_json": json.dumps(value if (project.is_ner and value is not None) else [], ensure_ascii=False),
            "labeling_config": {"kind": "ner" if project.is_ner else "classification", "multi": project.multi_label,
                                "text": task.text if project.is_ner else "",
                                "labels": [{"value": label["value"], "name": label["name"], "key": label["key"]}
                                           for label in project.labels],
                                "messages": _script_messages()}}


def _script_messages() -> dict:
    """Sentences the keyboard script announces (translated here, where gettext is)."""
    return {
        "selected": _("已选择：%s"), "unselected": _("已取消：%s"), "choose_one": _("请先选择一个标签。"),
        "need_selection": _("请先按住 Shift 加方向键选中文字，再按实体类型的快捷键。"),
        "only_space": _("选中的只有空白字符。"),
        "overlap": _("与已标注的“%s”重叠；实体不能重叠，请先删除它（Backspace）。"),
        "added": _("已标注%s：%s"), "changed": _("已改为%s：%s"), "removed": _("已删除实体：%s"),
        "nothing_to_remove": _("光标处没有实体。"), "remove": _("删除"), "submitting": _("正在提交……"),
    }


@login_required
def annotate(request, pk: int):
    """The caller's next task of the project (or the page saying the queue is done)."""
    project = _project(request, pk)
    after = request.GET.get("after", "0")
    task = actions.next_task(request.user, project, int(after) if after.isdigit() else 0)
    if task is not None:
        return redirect("data:labeling_task", pk=task.pk)
    return render(request, "data/labeling/done.html", {
        "project": project, "stats": actions.queue_stats(request.user, project),
        "first": actions.queue(request.user, project).first()})


@login_required
def task_page(request, pk: int):
    task = get_visible_or_404(request.user, LabelingTask, pk=pk)
    project = task.project
    mine = Annotation.objects.filter(task=task, annotator=request.user).first()
    assigned = task.assignments.filter(annotator=request.user).exists()
    errors = []
    value = mine.value if mine else None
    status = 200
    if request.method == "POST":
        form = AnnotationForm(request.POST, task=task)
        try:
            actions.save_annotation(request.user, task, form)
        except ValidationError as exc:
            errors = error_messages(exc)
            status = 400
            value = _submitted(project, request.POST, value)
        except PermissionDenied as exc:
            errors = [str(exc) or _("您不能标注该任务。")]
            status = 403
        else:
            messages.success(request, _("任务 #%(n)d 已保存。") % {"n": task.ordinal})
            return redirect(reverse("data:labeling_annotate", args=[project.pk]) + f"?after={task.ordinal}")
    context = {"project": project, "task": task, "annotation": mine, "assigned": assigned, "errors": errors,
               "can_annotate": assigned and can(request.user, "annotate", task) and task.state != TaskState.DECIDED,
               "stats": actions.queue_stats(request.user, project) if assigned else None,
               **_widget_context(project, task, value), **_queue_links(request, task)}
    return render(request, "data/labeling/task.html", context, status=status)


def _submitted(project: LabelingProject, post, fallback):
    """What the annotator had selected, to show it again with the error (nothing typed is lost)."""
    if project.is_ner:
        try:
            spans = json.loads(post.get("spans") or "[]")
        except ValueError:
            return fallback
        return [s for s in spans if isinstance(s, dict)] if isinstance(spans, list) else fallback
    return post.getlist("labels")


@login_required
def task_image(request, pk: int):
    task = get_visible_or_404(request.user, LabelingTask, pk=pk)
    if not task.image:
        raise Http404
    response = FileResponse(task.image.open("rb"), content_type=task.image_type or "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ---- reviewing ----------------------------------------------------------------------------------

@login_required
def review_queue(request, pk: int):
    project = _project(request, pk)
    _require(request, "review", project)
    page = Paginator(actions.review_queue(project), 30).get_page(request.GET.get("page"))
    return render(request, "data/labeling/review_queue.html", {"project": project, "page": page})


@login_required
def review_task(request, pk: int):
    task = get_visible_or_404(request.user, LabelingTask, pk=pk)
    project = task.project
    _require(request, "review", task)
    errors = []
    status = 200
    value = task.final
    if request.method == "POST":
        form = DecisionForm(request.POST, task=task)
        try:
            actions.decide_task(request.user, task, form)
        except ValidationError as exc:
            errors = error_messages(exc)
            status = 400
            value = _submitted(project, request.POST, value)
        else:
            messages.success(request, _("任务 #%(n)d 的最终标注已记录。") % {"n": task.ordinal})
            following = actions.review_queue(project).exclude(state=TaskState.DECIDED).exclude(pk=task.pk).first()
            if following is not None:
                return redirect("data:labeling_review_task", pk=following.pk)
            return redirect("data:labeling_review", pk=project.pk)
    annotations = list(task.annotations.select_related("annotator").order_by("annotator__username"))
    for a in annotations:
        a.shown = _shown(project, task, a.value)
    return render(request, "data/labeling/review_task.html", {
        "project": project, "task": task, "annotations": annotations, "errors": errors,
        "final_shown": _shown(project, task, task.final) if task.final is not None else None,
        "decisions": [(d, _shown(project, task, d.value)) for d in task.decisions.select_related("decided_by", "accepted_annotator")],
        "history": LABELING_TASK.history(task), **_widget_context(project, task, value)}, status=status)


def _shown(project: LabelingProject, task: LabelingTask, value) -> list[str]:
    if value is None:
        return []
    if project.is_ner:
        names = project.label_names
        return [f"{task.text[s['start']:s['end']]}（{names.get(s['label'], s['label'])}，{s['start']}–{s['end']}）"
                for s in value] or [_("（无实体）")]
    names = project.label_names
    return [names.get(v, v) for v in value] or [_("（未选择任何标签）")]


# ---- agreement and exports ----------------------------------------------------------------------

@login_required
def agreement(request, pk: int):
    project = _project(request, pk)
    _require(request, "agreement", project)
    result = project_agreement(project)
    if request.GET.get("format") == "json":
        return JsonResponse(result, json_dumps_params={"ensure_ascii": False})
    return render(request, "data/labeling/agreement.html", {"project": project, "result": result})


@login_required
def export(request, pk: int):
    project = _project(request, pk)
    _require(request, "export", project)
    fmt, scope = request.GET.get("format", "jsonl"), request.GET.get("scope", "final")
    try:
        return labeling_exports.response(project, fmt, scope)
    except ValidationError as exc:
        return HttpResponseBadRequest("；".join(error_messages(exc)), content_type="text/plain; charset=utf-8")
