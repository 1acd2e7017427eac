"""Labeling operations: one function each, one transaction each, each writing its audit entry. Views, the
API and the tests call these; imports of large versions run in the worker (labeling_tasks)."""

from __future__ import annotations

from collections import Counter

import polars as pl
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.apps.core import audit
from gaodi.apps.core.models import Organization, User
from gaodi.apps.core.permissions import require
from gaodi.engines.dataquality import DataQualityError, ReadOptions, ZipBombError, open_table

from .labeling_forms import AnnotationForm, AnnotatorForm, DecisionForm, ImageArchiveForm, ImportForm
from .labeling_images import ArchiveError, ArchiveImage, read_images
from .labeling_models import (
    Annotation,
    Assignment,
    ImportState,
    LabelingKind,
    LabelingProject,
    LabelingTask,
    ProjectAnnotator,
    ReviewDecision,
    TaskImport,
    TaskState,
)
from .labeling_policies import is_active_annotator, manager_ids, usable_versions
from .labeling_schema import canonical
from .labeling_workflows import LABELING_TASK
from .models import QualityState, Resource, ResourceKind, ResourceVersion

SKIPPED_SAMPLES = 10
BULK = 500


def _validated(form) -> dict:
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form.cleaned_data


def inline_import_bytes() -> int:
    return int(getattr(settings, "GAODI_LABELING_INLINE_IMPORT_BYTES", 1 << 20))


def max_text_chars() -> int:
    return int(getattr(settings, "GAODI_LABELING_MAX_TEXT_CHARS", 5000))


def max_tasks_per_import() -> int:
    return int(getattr(settings, "GAODI_LABELING_MAX_TASKS_PER_IMPORT", 200_000))


# ---- projects -----------------------------------------------------------------------------------

def create_project(user, organization: Organization, form) -> LabelingProject:
    if organization.pk not in manager_ids(user):
        raise PermissionDenied(_("您不是该机构的发布员或管理员，不能以其名义创建标注项目。"))
    data = _validated(form)
    with transaction.atomic():
        project = LabelingProject.objects.create(
            organization=organization, name=data["name"], kind=data["kind"], multi_label=bool(data.get("multi_label")),
            overlap=data["overlap"], description=data.get("description") or "",
            instructions=data.get("instructions") or "", labels=data["labels"], created_by=user)
        audit.record(user, "data.labeling.project.create", project,
                     {"kind": project.kind, "labels": project.label_values, "overlap": project.overlap})
    return project


def update_project(user, project: LabelingProject, form) -> LabelingProject:
    """Change the project. Once tasks exist the kind is fixed; once annotations exist, labels may be
    renamed, re-keyed or added, but no label value in use may go and single/multi stays."""
    require(user, "manage", project)
    data = _validated(form)
    with transaction.atomic():
        project = LabelingProject.objects.select_for_update().get(pk=project.pk)
        if data["kind"] != project.kind and project.tasks.exists():
            raise ValidationError({"kind": _("项目已有任务，不能再改标注类型。")})
        annotated = Annotation.objects.filter(task__project=project).exists()
        if annotated:
            if bool(data.get("multi_label")) != project.multi_label:
                raise ValidationError({"multi_label": _("已有标注，不能再切换单标签/多标签。")})
            new_values = {label["value"] for label in data["labels"]}
            removed = [v for v in project.label_values if v not in new_values]
            if removed:
                raise ValidationError({"labels": [_("已有标注，不能删除或改名标签值“%(v)s”；可以修改显示名和快捷键，或新增标签。")
                                                  % {"v": removed[0]}]})
        before = {"labels": project.label_values, "overlap": project.overlap, "kind": project.kind}
        for key in ("name", "kind", "overlap"):
            setattr(project, key, data[key])
        project.multi_label = bool(data.get("multi_label"))
        project.description = data.get("description") or ""
        project.instructions = data.get("instructions") or ""
        project.labels = data["labels"]
        project.save()
        audit.record(user, "data.labeling.project.update", project,
                     {"before": before, "labels": project.label_values, "overlap": project.overlap})
    return project


def close_project(user, project: LabelingProject) -> LabelingProject:
    require(user, "manage", project)
    with transaction.atomic():
        project = LabelingProject.objects.select_for_update().get(pk=project.pk)
        if project.closed_at is not None:
            raise ValidationError({"project": _("项目已经结项。")})
        project.closed_at = timezone.now()
        project.save(update_fields=["closed_at", "updated_at"])
        audit.record(user, "data.labeling.project.close", project)
    return project


def reopen_project(user, project: LabelingProject) -> LabelingProject:
    require(user, "manage", project)
    with transaction.atomic():
        project = LabelingProject.objects.select_for_update().get(pk=project.pk)
        if project.closed_at is None:
            raise ValidationError({"project": _("项目没有结项。")})
        project.closed_at = None
        project.save(update_fields=["closed_at", "updated_at"])
        audit.record(user, "data.labeling.project.reopen", project)
    return project


# ---- annotators and assignment ------------------------------------------------------------------

def add_annotator(user, project: LabelingProject, form: AnnotatorForm) -> ProjectAnnotator:
    require(user, "manage", project)
    data = _validated(form)
    person = User.objects.filter(username=data["username"].strip(), is_active=True).first()
    if person is None or not person.memberships.filter(organization_id=project.organization_id).exists():
        raise ValidationError({"username": _("用户“%(u)s”不是%(org)s的成员；请先由机构管理员将其加入本机构。")
                               % {"u": data["username"], "org": project.organization.name}})
    with transaction.atomic():
        annotator, created = ProjectAnnotator.objects.get_or_create(project=project, user=person,
                                                                    defaults={"added_by": user})
        if not created:
            if annotator.active:
                raise ValidationError({"username": _("“%(u)s”已经是本项目的标注员。") % {"u": person.username}})
            annotator.active = True
            annotator.save(update_fields=["active"])
        audit.record(user, "data.labeling.annotator.add", project, {"annotator": person.pk})
    return annotator


def remove_annotator(user, project: LabelingProject, person: User) -> int:
    """Stop assigning tasks to `person`; their open assignments without an annotation are withdrawn (run
    the assignment again to give those tasks to others). Their annotations stay. Returns withdrawn."""
    require(user, "manage", project)
    with transaction.atomic():
        annotator = ProjectAnnotator.objects.select_for_update().filter(project=project, user=person, active=True).first()
        if annotator is None:
            raise ValidationError({"username": _("该用户不是本项目的在岗标注员。")})
        annotator.active = False
        annotator.save(update_fields=["active"])
        annotated = Annotation.objects.filter(task__project=project, annotator=person).values("task_id")
        withdrawn, _rows = (Assignment.objects.filter(task__project=project, annotator=person)
                            .exclude(task_id__in=annotated).exclude(task__state=TaskState.DECIDED).delete())
        audit.record(user, "data.labeling.annotator.remove", project, {"annotator": person.pk, "withdrawn": withdrawn})
    return withdrawn


def plan_assignments(tasks: list[tuple[int, int, set[int]]], annotators: list[int], overlap: int,
                     load: dict[int, int]) -> list[tuple[int, int]]:
    """Deterministic balanced assignment. tasks: (task id, ordinal, current assignees). Each task gets
    annotators until it has `overlap` distinct ones: the least loaded first, ties broken by rotating
    with the task's ordinal (so equal loads take turns). Returns the new (task id, annotator) pairs."""
    order = sorted(annotators)
    position = {a: i for i, a in enumerate(order)}
    n = len(order)
    load = {a: load.get(a, 0) for a in order}
    pairs = []
    for task_id, ordinal, have in tasks:
        need = overlap - len(have)
        if need <= 0:
            continue
        candidates = sorted((a for a in order if a not in have),
                            key=lambda a: (load[a], (position[a] - ordinal) % n))
        for annotator in candidates[:need]:
            pairs.append((task_id, annotator))
            load[annotator] += 1
    return pairs


def _assign(actor, project: LabelingProject) -> int:
    annotators = list(ProjectAnnotator.objects.filter(project=project, active=True).values_list("user_id", flat=True))
    tasks = (project.tasks.filter(batch__state=ImportState.DONE).exclude(state=TaskState.DECIDED)
             .annotate(n=Count("assignments")).filter(n__lt=project.overlap).order_by("ordinal"))
    rows = list(tasks.values_list("pk", "ordinal"))
    if not rows:
        return 0
    if len(annotators) < project.overlap:
        raise ValidationError({"overlap": _("每个任务需要 %(k)d 名不同的标注员，但本项目只有 %(n)d 名在岗标注员；请先添加标注员或降低人数。")
                               % {"k": project.overlap, "n": len(annotators)}})
    current: dict[int, set[int]] = {pk: set() for pk, _o in rows}
    for task_id, annotator in Assignment.objects.filter(task_id__in=current).values_list("task_id", "annotator_id"):
        current[task_id].add(annotator)
    load = dict(Assignment.objects.filter(task__project=project, annotator_id__in=annotators)
                .values_list("annotator_id").annotate(n=Count("id")).order_by())
    pairs = plan_assignments([(pk, ordinal, current[pk]) for pk, ordinal in rows], annotators, project.overlap, load)
    Assignment.objects.bulk_create([Assignment(task_id=t, annotator_id=a) for t, a in pairs], batch_size=BULK)
    audit.record(actor, "data.labeling.assign", project, {"assignments": len(pairs), "tasks": len(rows)})
    return len(pairs)


def assign_tasks(user, project: LabelingProject) -> int:
    """Give every task that has fewer than `overlap` annotators the missing ones. Returns how many."""
    require(user, "manage", project)
    with transaction.atomic():
        project = LabelingProject.objects.select_for_update().get(pk=project.pk)
        return _assign(user, project)


# ---- data: image archives and imports -----------------------------------------------------------

def add_image_archive(user, resource: Resource, form: ImageArchiveForm) -> ResourceVersion:
    """A zip of images as a new version of a file resource (the quality profile does not apply to it)."""
    require(user, "change", resource.dataset)
    if resource.kind != ResourceKind.FILE:
        raise ValidationError({"file": _("接口资源没有文件版本。")})
    data = _validated(form)
    checked = form.checked
    with transaction.atomic():
        number = (resource.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        upload = data["file"]
        version = ResourceVersion(resource=resource, number=number, file_format="zip",
                                  original_name=(upload.name or "")[-200:], size=checked.size, sha256=checked.sha256,
                                  note=data.get("note") or "", created_by=user, quality_state=QualityState.NONE)
        version.file.save(f"r{resource.pk}v{number}.zip", upload, save=False)
        version.save()
        audit.record(user, "data.version.add", version, {"number": number, "sha256": checked.sha256, "format": "zip"})
    return version


def start_import(user, project: LabelingProject, form: ImportForm) -> TaskImport:
    """Record an import and run it: inline when the file is small, else in the worker (with progress)."""
    require(user, "manage", project)
    data = _validated(form)
    version = data["version"]
    if not usable_versions(user, project).filter(pk=version.pk).exists():
        raise PermissionDenied(_("本项目无权使用该数据版本（须为本机构发布、无条件开放或已获授权的数据）。"))
    with transaction.atomic():
        LabelingProject.objects.select_for_update().get(pk=project.pk)
        if project.imports.filter(state__in=[ImportState.PENDING, ImportState.RUNNING]).exists():
            raise ValidationError({"version": _("本项目有一次导入尚未完成，请等它结束后再导入。")})
        if project.imports.filter(version=version, state=ImportState.DONE,
                                  text_column=(data.get("text_column") or "").strip()).exists():
            raise ValidationError({"version": _("该数据版本（同一文本列）已经导入过本项目。")})
        batch = TaskImport.objects.create(
            project=project, version=version, text_column=(data.get("text_column") or "").strip(),
            id_column=(data.get("id_column") or "").strip(), skip_bad_rows=bool(data.get("skip_bad_rows")),
            created_by=user)
        audit.record(user, "data.labeling.import.start", batch, {"project": project.pk, "version": version.pk})
        inline = version.size <= inline_import_bytes()
        if not inline:
            from .labeling_tasks import run_labeling_import

            transaction.on_commit(lambda: run_labeling_import.enqueue(batch.pk))
    if inline:
        return run_import(batch.pk)
    return batch


class _ImportFailed(Exception):
    pass


def _progress_writer(batch_id: int):
    last = [-1]

    def write(percent: int) -> None:
        percent = max(0, min(99, int(percent)))
        if percent >= last[0] + 2:
            last[0] = percent
            TaskImport.objects.filter(pk=batch_id).update(progress=percent)
    return write


def run_import(batch_id: int) -> TaskImport:
    """Read the version and create the tasks (committed in chunks). On any error the tasks of this
    import are removed again and the error is stored in one line: nothing else is touched."""
    with transaction.atomic():
        batch = TaskImport.objects.select_for_update().select_related("project", "version").get(pk=batch_id)
        if batch.state != ImportState.PENDING:
            return batch
        batch.state = ImportState.RUNNING
        batch.save(update_fields=["state"])
    project = batch.project
    skipped: list[dict] = []
    counts = {"created": 0, "skipped": 0}
    start = (project.tasks.aggregate(n=Max("ordinal"))["n"] or 0) + 1
    write = _progress_writer(batch.pk)
    try:
        if project.is_image:
            _import_images(batch, start, counts, skipped, write)
        else:
            _import_texts(batch, start, counts, skipped, write, batch.skip_bad_rows)
        if counts["created"] == 0:
            raise _ImportFailed(_("没有可导入的任务（%(n)d 条被跳过）。") % {"n": counts["skipped"]})
    except (DataQualityError, ArchiveError, _ImportFailed, ZipBombError) as exc:
        return _fail(batch, str(exc))
    with transaction.atomic():
        batch = TaskImport.objects.select_for_update().get(pk=batch.pk)
        batch.state = ImportState.DONE
        batch.progress = 100
        batch.created_count = counts["created"]
        batch.skipped_count = counts["skipped"]
        batch.skipped_samples = skipped[:SKIPPED_SAMPLES]
        batch.finished_at = timezone.now()
        batch.save()
        audit.record(batch.created_by, "data.labeling.import.done", batch,
                     {"created": counts["created"], "skipped": counts["skipped"]})
        project = LabelingProject.objects.select_for_update().get(pk=project.pk)
        if ProjectAnnotator.objects.filter(project=project, active=True).count() >= project.overlap:
            _assign(batch.created_by, project)
    return batch


def _fail(batch: TaskImport, message: str) -> TaskImport:
    with transaction.atomic():
        tasks = LabelingTask.objects.filter(batch=batch)
        files = [t.image.name for t in tasks.only("image") if t.image]
        tasks.delete()
        batch = TaskImport.objects.select_for_update().get(pk=batch.pk)
        batch.state = ImportState.FAILED
        batch.error = (message.splitlines()[0] if message else _("导入失败"))[:500]
        batch.created_count = 0
        batch.finished_at = timezone.now()
        batch.save()
        audit.record(batch.created_by, "data.labeling.import.failed", batch, {"error": batch.error})
    from django.core.files.storage import default_storage

    for name in files:
        default_storage.delete(name)
    return batch


def _flush(tasks: list[LabelingTask]) -> None:
    if tasks:
        with transaction.atomic():
            LabelingTask.objects.bulk_create(tasks, batch_size=BULK)
        tasks.clear()


def _as_text(series: pl.Series, column: str) -> pl.Series:
    if series.dtype == pl.String:
        return series
    if series.dtype.is_nested() or series.dtype == pl.Object:
        raise _ImportFailed(_("列“%(c)s”不是文本（是 %(t)s），请选择文本列。") % {"c": column, "t": series.dtype})
    return series.cast(pl.String)


def _import_texts(batch: TaskImport, start: int, counts: dict, skipped: list, write, skip_bad_rows: bool) -> None:
    version = batch.version
    chunk = int(getattr(settings, "GAODI_LABELING_READ_CHUNK_BYTES", 16 << 20))
    reader = open_table(version.file.path, ReadOptions(format=version.file_format, chunk_bytes=chunk,
                                                       on_bad_row="skip" if skip_bad_rows else "error"))
    size = max(1, version.size)
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        write(100 * done[0] / size)

    limit, cap = max_text_chars(), max_tasks_per_import()
    pending: list[LabelingTask] = []
    row = 0
    ordinal = start
    for frame in reader.batches(progress):
        if batch.text_column not in frame.columns:
            raise _ImportFailed(_("文件中没有名为“%(c)s”的列；现有的列：%(all)s。")
                                % {"c": batch.text_column, "all": "、".join(frame.columns)[:300]})
        if batch.id_column and batch.id_column not in frame.columns:
            raise _ImportFailed(_("文件中没有名为“%(c)s”的编号列；现有的列：%(all)s。")
                                % {"c": batch.id_column, "all": "、".join(frame.columns)[:300]})
        texts = _as_text(frame.get_column(batch.text_column), batch.text_column).to_list()
        ids = (_as_text(frame.get_column(batch.id_column), batch.id_column).to_list() if batch.id_column
               else [None] * len(texts))
        for raw, source_id in zip(texts, ids, strict=True):
            row += 1
            text = raw.replace("\r\n", "\n").replace("\r", "\n") if raw is not None else None
            reason = None
            if text is None or not text.strip():
                reason = _("文本为空")
            elif len(text) > limit:
                reason = _("文本有 %(n)d 个字符，超过上限 %(max)d") % {"n": len(text), "max": limit}
            if reason:
                counts["skipped"] += 1
                if len(skipped) < SKIPPED_SAMPLES:
                    skipped.append({"row": row, "reason": reason})
                continue
            if counts["created"] >= cap:
                raise _ImportFailed(_("一次最多导入 %(n)d 个任务，请拆分数据后分批导入。") % {"n": cap})
            pending.append(LabelingTask(project_id=batch.project_id, batch=batch, ordinal=ordinal, source_row=row,
                                        source_id=(source_id or "")[:200], text=text))
            ordinal += 1
            counts["created"] += 1
            if len(pending) >= BULK:
                _flush(pending)
    _flush(pending)
    bad = reader.stats.bad_rows
    if bad:
        counts["skipped"] += bad
        for sample in reader.stats.bad_row_samples:
            if len(skipped) < SKIPPED_SAMPLES:
                skipped.append({"line": sample.line, "reason": _("格式错误的行：%(r)s") % {"r": sample.reason}})


def _import_images(batch: TaskImport, start: int, counts: dict, skipped: list, write) -> None:
    ordinal = start
    pending: list[LabelingTask] = []

    def progress(index: int, total: int) -> None:
        write(100 * index / max(1, total))

    for item in read_images(batch.version.file.path, progress=progress):
        if not isinstance(item, ArchiveImage):
            counts["skipped"] += 1
            if len(skipped) < SKIPPED_SAMPLES:
                skipped.append({"file": item.name, "reason": item.reason})
            continue
        task = LabelingTask(project_id=batch.project_id, batch=batch, ordinal=ordinal, source_id=item.name[:200],
                            image_name=item.name[:300], image_type=item.content_type)
        task.image.save(f"p{batch.project_id}-t{ordinal}{item.extension}", ContentFile(item.data), save=False)
        pending.append(task)
        ordinal += 1
        counts["created"] += 1
        if len(pending) >= 50:
            _flush(pending)
    _flush(pending)


# ---- annotating and reviewing -------------------------------------------------------------------

def _refresh_counts(task: LabelingTask) -> None:
    values = [canonical(v) for v in task.annotations.values_list("value", flat=True)]
    task.annotation_count = len(values)
    task.disagreement = len(set(values)) > 1


def save_annotation(user, task: LabelingTask, form: AnnotationForm) -> Annotation:
    """Save (or change) the caller's annotation of an assigned task. A refused annotation changes
    nothing; a changed one keeps its previous value in the audit entry."""
    with transaction.atomic():
        task = LabelingTask.objects.select_for_update().select_related("project").get(pk=task.pk)
        project = task.project
        if not task.assignments.filter(annotator=user).exists():
            raise PermissionDenied(_("该任务没有分配给您，不能标注。"))
        if project.closed_at is not None:
            raise ValidationError({"task": _("项目已结项，不能再标注。")})
        if not is_active_annotator(user, project):
            raise PermissionDenied(_("您已不是本项目的在岗标注员。"))
        if task.state == TaskState.DECIDED:
            raise ValidationError({"task": _("该任务已由审核员裁定，标注不能再修改。")})
        form.task = task
        value = _validated(form)["value"]
        now = timezone.now()
        annotation = Annotation.objects.filter(task=task, annotator=user).first()
        previous = None
        if annotation is None:
            annotation = Annotation.objects.create(task=task, annotator=user, value=value, created_at=now,
                                                   updated_at=now)
        else:
            previous = annotation.value
            annotation.value, annotation.updated_at = value, now
            annotation.save(update_fields=["value", "updated_at"])
        _refresh_counts(task)
        if task.state == TaskState.OPEN and task.annotation_count >= project.overlap:
            LABELING_TASK.apply(task, "complete", user, system=True)
        else:
            task.save(update_fields=["annotation_count", "disagreement"])
        audit.record(user, "data.labeling.annotate", annotation,
                     {"task": task.pk, "value": value, "previous": previous})
    return annotation


def decide_task(user, task: LabelingTask, form: DecisionForm) -> ReviewDecision:
    """The reviewer's final label: accept one annotation, or set the value. Insert-only history."""
    require(user, "review", task)
    with transaction.atomic():
        task = LabelingTask.objects.select_for_update().select_related("project").get(pk=task.pk)
        form.task = task
        data = _validated(form)
        annotation = data.get("annotation")
        note = (data.get("note") or "").strip()
        decision = ReviewDecision.objects.create(
            task=task, value=data["value"], accepted=annotation,
            accepted_annotator_id=annotation.annotator_id if annotation else None, note=note, decided_by=user)
        task.final, task.decided_by, task.decided_at = data["value"], user, decision.created_at
        LABELING_TASK.apply(task, "decide", user, note)
        audit.record(user, "data.labeling.decide", task,
                     {"value": data["value"], "accepted": annotation.pk if annotation else None, "note": note})
    return decision


# ---- queries ------------------------------------------------------------------------------------

def queue(user, project: LabelingProject):
    """The caller's assigned tasks of the project, in order."""
    return LabelingTask.objects.filter(project=project, assignments__annotator=user).order_by("ordinal")


def next_task(user, project: LabelingProject, after: int = 0) -> LabelingTask | None:
    """The next assigned task without the caller's annotation (after `after`, else from the start)."""
    todo = (queue(user, project).exclude(annotations__annotator=user).exclude(state=TaskState.DECIDED))
    return todo.filter(ordinal__gt=after).first() or todo.first()


def queue_stats(user, project: LabelingProject) -> dict:
    assigned = queue(user, project).count()
    done = Annotation.objects.filter(task__project=project, annotator=user).count()
    return {"assigned": assigned, "done": done, "left": max(0, assigned - done)}


def project_stats(project: LabelingProject) -> dict:
    states = Counter(dict(project.tasks.values_list("state").annotate(n=Count("id")).order_by()))
    per_annotator = list(ProjectAnnotator.objects.filter(project=project).select_related("user"))
    assigned = dict(Assignment.objects.filter(task__project=project).values_list("annotator_id")
                    .annotate(n=Count("id")).order_by())
    annotated = dict(Annotation.objects.filter(task__project=project).values_list("annotator_id")
                     .annotate(n=Count("id")).order_by())
    rows = [{"user": a.user, "active": a.active, "assigned": assigned.get(a.user_id, 0),
             "annotated": annotated.get(a.user_id, 0)} for a in per_annotator]
    return {"tasks": sum(states.values()), "open": states.get(TaskState.OPEN, 0),
            "complete": states.get(TaskState.COMPLETE, 0), "decided": states.get(TaskState.DECIDED, 0),
            "disagreements": project.tasks.filter(disagreement=True).exclude(state=TaskState.DECIDED).count(),
            "annotators": rows, "kind_label": LabelingKind(project.kind).label}


def review_queue(project: LabelingProject):
    """Undecided tasks with disagreement first, then the other undecided ones with annotations, then the
    rest; decided ones last."""
    from django.db.models import Case, IntegerField, Value, When

    return project.tasks.annotate(rank=Case(
        When(state=TaskState.DECIDED, then=Value(3)),
        When(disagreement=True, then=Value(0)),
        When(annotation_count__gt=0, then=Value(1)),
        default=Value(2), output_field=IntegerField())).order_by("rank", "-annotation_count", "ordinal")


def organizations_for(user):
    return Organization.objects.filter(pk__in=manager_ids(user)).order_by("name")
