"""Validation of labeling input, shared by the web pages and the API (the actions call these forms)."""

from __future__ import annotations

import hashlib

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from gaodi.engines.dataquality import ZipBombError

from .forms import CheckedData
from .labeling_images import ArchiveError, Limits, check_archive
from .labeling_models import LabelingKind, LabelingProject, LabelingTask
from .labeling_schema import (
    label_lines,
    parse_label_lines,
    validate_classification,
    validate_labels,
    validate_spans,
)

TEXT_FORMATS = ("csv", "jsonl", "parquet", "excel")


class ProjectForm(forms.ModelForm):
    labels_text = forms.CharField(
        label=_l("标签集"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000,
        help_text=_l("每行一个标签：标签值 | 显示名 | 快捷键，例如“PER | 人名 | 1”。显示名和快捷键可省略；"
                     "快捷键为一个数字或字母，省略时按 1-9、0、a-z 自动分配。"))

    class Meta:
        model = LabelingProject
        fields = ["name", "kind", "multi_label", "overlap", "description", "instructions"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3}), "instructions": forms.Textarea(attrs={"rows": 6})}
        help_texts = {"overlap": _l("每个任务分配给几名不同的标注员（1-10）；2 名以上才能计算一致性。"),
                      "multi_label": _l("仅分类项目：一个任务可以选多个标签。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(["name", "kind", "labels_text", "multi_label", "overlap", "description", "instructions"])
        if self.instance.pk and not self.is_bound:
            self.initial["labels_text"] = label_lines(self.instance.labels)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == LabelingKind.NER and data.get("multi_label"):
            self.add_error("multi_label", _("命名实体项目不适用“多标签”，请取消勾选。"))
        if kind and "labels_text" in data:
            try:
                data["labels"] = validate_labels(parse_label_lines(data["labels_text"]), kind)
            except ValidationError as exc:
                self.add_error("labels_text", exc.message_dict["labels"])
        return data


class ProjectApiForm(forms.Form):
    """The API's project body: the same rules, with the label set as a list of objects."""

    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=LabelingKind.choices)
    multi_label = forms.BooleanField(required=False)
    overlap = forms.IntegerField(min_value=1, max_value=10)
    description = forms.CharField(max_length=2000, required=False)
    instructions = forms.CharField(max_length=10000, required=False)
    labels = forms.JSONField()

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == LabelingKind.NER and data.get("multi_label"):
            self.add_error("multi_label", _("命名实体项目不适用“多标签”，请取消勾选。"))
        labels = data.get("labels")
        if kind and labels is not None:
            if not isinstance(labels, list):
                self.add_error("labels", _("标签集应为列表，每项包含 value、name、key。"))
            else:
                try:
                    data["labels"] = validate_labels(labels, kind)
                except ValidationError as exc:
                    self.add_error("labels", exc.message_dict["labels"])
        return data


class AnnotatorForm(forms.Form):
    username = forms.CharField(label=_l("用户名"), max_length=150,
                               help_text=_l("须为本机构的成员。"))


class ImportForm(forms.Form):
    version = forms.ModelChoiceField(label=_l("数据版本"), queryset=None,
                                     help_text=_l("可选本机构发布的数据、无条件开放数据，以及本机构或您已获授权的有条件开放数据。"))
    text_column = forms.CharField(label=_l("文本列"), max_length=200, required=False,
                                  help_text=_l("文本项目必填：要标注的文本所在列的列名。"))
    id_column = forms.CharField(label=_l("编号列"), max_length=200, required=False,
                                help_text=_l("可选：作为源数据编号导出的列；留空时用行号。"))
    skip_bad_rows = forms.BooleanField(label=_l("跳过格式错误的行"), required=False,
                                       help_text=_l("勾选后列数不符的 CSV 行和无效的 JSON 行被跳过并计数；否则导入在第一处错误停止。"))

    def __init__(self, *args, project: LabelingProject, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["version"].queryset = versions
        self.fields["version"].label_from_instance = lambda v: (
            f"{v.resource.dataset.title} · {v.resource.name} · v{v.number} ({v.file_format}, {filesizeformat(v.size)})")

    def clean(self):
        data = super().clean()
        version = data.get("version")
        if version is None:
            return data
        if self.project.is_image:
            if version.file_format != "zip":
                self.add_error("version", _("图像分类项目须选择图片压缩包（zip）版本；该版本是 %(f)s。")
                               % {"f": version.file_format})
        else:
            if version.file_format not in TEXT_FORMATS:
                self.add_error("version", _("文本项目须选择 CSV、JSON Lines、Parquet 或 Excel 版本；该版本是 %(f)s。")
                               % {"f": version.file_format})
            if not (data.get("text_column") or "").strip():
                self.add_error("text_column", _("请填写文本所在列的列名。"))
        return data


class ImageArchiveForm(forms.Form):
    """A zip of images added as a new version of a file resource, for image labeling projects."""

    file = forms.FileField(label=_l("图片压缩包"), help_text=_l("zip 格式，内含 PNG、JPEG、GIF 或 WebP 图片。"))
    note = forms.CharField(label=_l("版本说明"), max_length=200, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limits = Limits.from_settings()
        name = (upload.name or "").lower()
        if not name.endswith(".zip"):
            raise ValidationError(_("请上传 .zip 压缩包。"))
        if upload.size > limits.max_archive_bytes:
            raise ValidationError(_("文件大小 %(size)s 超过上限 %(max)s，请拆分后分批上传。")
                                  % {"size": filesizeformat(upload.size), "max": filesizeformat(limits.max_archive_bytes)})
        digest = hashlib.sha256()
        head = b""
        for chunk in upload.chunks():
            if not head:
                head = chunk[:4]
            digest.update(chunk)
        upload.seek(0)
        if head not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip with entries, or an empty one
            raise ValidationError(_("文件内容不是 zip 压缩包（可能是改名的其他类型文件），已拒绝。"))
        try:
            infos = check_archive(upload, limits, size=upload.size)
        except (ArchiveError, ZipBombError) as exc:
            raise ValidationError(str(exc)) from None
        finally:
            upload.seek(0)
        if not infos:
            raise ValidationError(_("压缩包里没有文件。"))
        self.checked = CheckedData(".zip", "zip", digest.hexdigest(), upload.size)
        return upload


class _ListField(forms.Field):
    widget = forms.SelectMultiple  # reads every value of the name (request.POST.getlist)

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, str):
            return [value]
        return list(value)


class AnnotationForm(forms.Form):
    """An annotation: `labels` (classification) or `spans` (entities; JSON text or a list)."""

    labels = _ListField(required=False)
    spans = forms.JSONField(required=False)

    def __init__(self, *args, task: LabelingTask, **kwargs):
        super().__init__(*args, **kwargs)
        self.task = task

    def clean(self):
        data = super().clean()
        project = self.task.project
        if self.errors:
            return data
        if project.is_ner:
            spans = data.get("spans")
            data["value"] = validate_spans(project.label_values, self.task.text, [] if spans is None else spans)
        else:
            data["value"] = validate_classification(project.label_values, project.multi_label, data.get("labels") or [])
        return data


class DecisionForm(AnnotationForm):
    """A reviewer's decision: accept one annotation (`accept`: its id), or give the final value."""

    accept = forms.IntegerField(required=False, min_value=1)
    note = forms.CharField(max_length=1000, required=False)

    def clean(self):
        if self.data.get("accept") not in (None, ""):
            data = forms.Form.clean(self)
            if self.errors:
                return data
            annotation = self.task.annotations.filter(pk=data.get("accept")).first()
            if annotation is None:
                raise ValidationError({"accept": _("该标注不属于此任务。")})
            data["annotation"] = annotation
            data["value"] = annotation.value
            return data
        data = super().clean()
        data["annotation"] = None
        return data
