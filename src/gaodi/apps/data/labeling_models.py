"""Professional labeling tools (Art. 16 para. 2: 数据标注的专业工具): labeling projects with a label schema,
tasks imported from a dataset version, assignment with overlap, annotations, the reviewer's decisions
(insert-only history) and import batches with progress."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.models import InsertOnlyModel, Organization

from .models import ResourceVersion


class LabelingKind(models.TextChoices):
    TEXT_CLASSIFICATION = "text_classification", _("文本分类")
    NER = "ner", _("命名实体标注")
    IMAGE_CLASSIFICATION = "image_classification", _("图像分类")


class TaskState(models.TextChoices):
    OPEN = "open", _("标注中")
    COMPLETE = "complete", _("待审核")
    DECIDED = "decided", _("已裁定")


class ImportState(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class LabelingProject(models.Model):
    """A labeling project (标注项目) of an organization: a data publisher or a third-party annotation
    institution. `labels` is the validated schema: [{"value", "name", "key"}, ...] (see labeling_schema)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="labeling_projects",
                                     verbose_name=_("所属机构"))
    name = models.CharField(_("项目名称"), max_length=100)
    description = models.TextField(_("项目说明"), max_length=2000, blank=True)
    instructions = models.TextField(_("标注规范"), max_length=10000, blank=True)
    kind = models.CharField(_("标注类型"), max_length=24, choices=LabelingKind.choices)
    multi_label = models.BooleanField(_("多标签"), default=False)
    labels = models.JSONField(_("标签集"), default=list)
    overlap = models.PositiveSmallIntegerField(_("每个任务的标注人数"), default=2,
                                               validators=[MinValueValidator(1), MaxValueValidator(10)])
    closed_at = models.DateTimeField(_("结项时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("标注项目")
        verbose_name_plural = _("标注项目")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def is_ner(self) -> bool:
        return self.kind == LabelingKind.NER

    @property
    def is_image(self) -> bool:
        return self.kind == LabelingKind.IMAGE_CLASSIFICATION

    @property
    def label_values(self) -> list[str]:
        return [label["value"] for label in self.labels]

    @property
    def label_names(self) -> dict[str, str]:
        return {label["value"]: label["name"] for label in self.labels}


class ProjectAnnotator(models.Model):
    """A person who labels for the project. Inactive annotators keep their annotations but get no tasks."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="annotators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labeling_roles",
                             verbose_name=_("标注员"))
    active = models.BooleanField(_("在岗"), default=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("项目标注员")
        verbose_name_plural = _("项目标注员")
        ordering = ["project", "user_id"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="data_labeling_annotator_unique")]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.user_id}"


class TaskImport(models.Model):
    """One import of tasks from a dataset version, run in the background with progress."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="imports")
    version = models.ForeignKey(ResourceVersion, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("数据版本"))
    text_column = models.CharField(_("文本列"), max_length=200, blank=True)
    id_column = models.CharField(_("编号列"), max_length=200, blank=True)
    skip_bad_rows = models.BooleanField(_("跳过格式错误的行"), default=False)
    state = models.CharField(_("状态"), max_length=8, choices=ImportState.choices, default=ImportState.PENDING)
    progress = models.PositiveSmallIntegerField(_("进度（%）"), default=0)
    created_count = models.PositiveIntegerField(_("导入任务数"), default=0)
    skipped_count = models.PositiveIntegerField(_("跳过数"), default=0)
    skipped_samples = models.JSONField(_("跳过示例"), default=list)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("任务导入")
        verbose_name_plural = _("任务导入")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.version}"

    @property
    def in_progress(self) -> bool:
        return self.state in (ImportState.PENDING, ImportState.RUNNING)


class LabelingTask(models.Model):
    """One item to label: a text (classification or NER) or an image. `final` is the reviewer's
    decision (the latest ReviewDecision); `disagreement` and `annotation_count` order the review queue."""

    project = models.ForeignKey(LabelingProject, on_delete=models.CASCADE, related_name="tasks")
    batch = models.ForeignKey(TaskImport, on_delete=models.CASCADE, related_name="tasks")
    ordinal = models.PositiveIntegerField(_("序号"))
    source_row = models.PositiveIntegerField(_("源数据行号"), null=True, blank=True)
    source_id = models.CharField(_("源数据编号"), max_length=200, blank=True)
    text = models.TextField(_("文本"), blank=True)
    image = models.FileField(upload_to="labeling/%Y/%m/", max_length=200, blank=True)
    image_name = models.CharField(_("图片文件名"), max_length=300, blank=True)
    image_type = models.CharField(max_length=32, blank=True)
    state = models.CharField(_("状态"), max_length=8, choices=TaskState.choices, default=TaskState.OPEN)
    deadline = models.DateField(null=True, blank=True)  # the core workflow's field; tasks have none
    annotation_count = models.PositiveSmallIntegerField(default=0)
    disagreement = models.BooleanField(_("存在分歧"), default=False)
    final = models.JSONField(_("最终标注"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("裁定人"))
    decided_at = models.DateTimeField(_("裁定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("标注任务")
        verbose_name_plural = _("标注任务")
        ordering = ["project", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["project", "ordinal"], name="data_labeling_task_ordinal")]
        indexes = [models.Index(fields=["project", "state", "disagreement"])]

    def __str__(self) -> str:
        return f"{self.project_id}#{self.ordinal}"


class Assignment(models.Model):
    """Task → annotator. Each task gets `project.overlap` distinct annotators."""

    task = models.ForeignKey(LabelingTask, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("任务分配")
        verbose_name_plural = _("任务分配")
        constraints = [models.UniqueConstraint(fields=["task", "annotator"], name="data_labeling_assignment_unique")]
        indexes = [models.Index(fields=["annotator", "task"])]

    def __str__(self) -> str:
        return f"{self.task_id}→{self.annotator_id}"


class Annotation(models.Model):
    """One annotator's labels for one task: ["label", ...] for classification, [{"start", "end", "label"}, ...]
    (character offsets, end exclusive) for entity spans. Changes are kept in the audit log."""

    task = models.ForeignKey(LabelingTask, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("标注员"))
    value = models.JSONField(_("标注"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("标注结果")
        verbose_name_plural = _("标注结果")
        ordering = ["task", "annotator_id"]
        constraints = [models.UniqueConstraint(fields=["task", "annotator"], name="data_labeling_annotation_unique")]

    def __str__(self) -> str:
        return f"{self.task_id}/{self.annotator_id}"


class ReviewDecision(InsertOnlyModel):
    """A reviewer's decision on a task's final label: accepting one annotation or setting the label."""

    task = models.ForeignKey(LabelingTask, on_delete=models.CASCADE, related_name="decisions")
    value = models.JSONField(_("最终标注"))
    accepted = models.ForeignKey(Annotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("采纳的标注"))
    accepted_annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                           blank=True, related_name="+")
    note = models.CharField(_("说明"), max_length=1000, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("裁定人"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("审核裁定")
        verbose_name_plural = _("审核裁定")
        ordering = ["task", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.task_id} by {self.decided_by_id}"


from . import labeling_features, labeling_policies  # noqa: E402, F401  register the policies and the feature
