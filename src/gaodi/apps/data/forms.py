"""Validation shared by the web pages, the API and the demo loader."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from gaodi.apps.core import search
from gaodi.apps.core.models import Organization

from .models import AccessApplication, Dataset, Frequency, OpenType, ResourceKind, SecurityLevel, Theme

DATA_FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "excel", ".jsonl": "jsonl"}
_BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"MZ", b"\x7fELF", bytes.fromhex("D0CF11E0A1B11AE1"), b"\x89PNG",
                 b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"PAR1")


def max_upload_bytes() -> int:
    return int(getattr(settings, "GAODI_DATA_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))


@dataclass(frozen=True)
class CheckedData:
    extension: str
    file_format: str
    sha256: str
    size: int


def check_data_file(upload, field: str = "file") -> CheckedData:
    """CSV, Parquet, XLSX or JSON Lines, judged by content, under the size limit."""
    name = (upload.name or "").lower()
    ext = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if ext not in DATA_FORMATS:
        raise ValidationError({field: _("只接受 CSV、Parquet、XLSX 或 JSON Lines（.jsonl）数据文件，请转换后重新上传。")})
    limit = max_upload_bytes()
    if upload.size > limit:
        raise ValidationError({field: _("文件大小 %(size)s 超过上限 %(max)s，请拆分或压缩为 Parquet 后重新上传。")
                               % {"size": filesizeformat(upload.size), "max": filesizeformat(limit)}})
    if upload.size == 0:
        raise ValidationError({field: _("文件为空，请选择正确的文件。")})
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 65536:
            head += chunk[:65536 - len(head)]
        digest.update(chunk)
    upload.seek(0)
    if not _content_matches(upload, ext, head):
        raise ValidationError({field: _("文件内容与扩展名 %(ext)s 不符（可能是改名的其他类型文件），已拒绝。"
                                        "请上传真实的数据文件。") % {"ext": ext}})
    return CheckedData(ext, DATA_FORMATS[ext], digest.hexdigest(), upload.size)


def _content_matches(upload, ext: str, head: bytes) -> bool:
    if ext == ".parquet":
        if not head.startswith(b"PAR1"):
            return False
        upload.seek(max(0, upload.size - 4))
        tail = upload.read(4)
        upload.seek(0)
        return tail == b"PAR1"
    if ext == ".xlsx":
        if not head.startswith(b"PK\x03\x04"):
            return False
        try:
            data = upload.read()
            upload.seek(0)
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, RuntimeError, ValueError):
            return False
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            return False
        return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)
    # Text formats: no binary signature, no NUL bytes, readable as UTF-8 or GB18030.
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        return False
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = head.decode(encoding)
            break
        except UnicodeDecodeError:
            # the 64 KiB cut may split a character: retry without the last few bytes
            try:
                text = head[:-3].decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    if text is None:
        return False
    if ext == ".jsonl":
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return first.startswith("{")
    return True


class DatasetForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["title", "title_en", "description", "theme", "keywords", "licence", "update_frequency",
                  "temporal_start", "temporal_end", "spatial", "open_type", "security_level", "conditions"]
        widgets = {"temporal_start": forms.DateInput(attrs={"type": "date"}),
                   "temporal_end": forms.DateInput(attrs={"type": "date"}),
                   "description": forms.Textarea(attrs={"rows": 4}), "conditions": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        data = super().clean()
        start, end = data.get("temporal_start"), data.get("temporal_end")
        if start and end and end < start:
            self.add_error("temporal_end", _("时间范围止不能早于时间范围起。"))
        if data.get("open_type") == OpenType.CONDITIONAL and not (data.get("conditions") or "").strip():
            self.add_error("conditions", _("有条件开放的数据须写明开放条件。"))
        if data.get("security_level") in (SecurityLevel.IMPORTANT, SecurityLevel.CORE) \
                and data.get("open_type") == OpenType.UNCONDITIONAL:
            self.add_error("open_type", _("重要数据和核心数据不能无条件开放，请选择有条件开放或不予开放。"))
        return data


class ResourceForm(forms.Form):
    name = forms.CharField(label=_l("资源名称"), max_length=200)
    kind = forms.ChoiceField(label=_l("资源类型"), choices=ResourceKind.choices)
    url = forms.URLField(label=_l("接口地址"), required=False, assume_scheme="https", help_text=_l("资源类型为接口时填写，须为 https 地址。"))
    file = forms.FileField(label=_l("数据文件"), required=False,
                           help_text=_l("CSV、Parquet、XLSX 或 JSON Lines，上传后自动进行质量检测。"))
    note = forms.CharField(label=_l("版本说明"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == ResourceKind.API:
            url = data.get("url") or ""
            if not url.startswith("https://"):
                self.add_error("url", _("接口资源须填写 https:// 开头的接口地址。"))
        elif kind == ResourceKind.FILE:
            upload = data.get("file")
            if not upload:
                self.add_error("file", _("文件资源须上传数据文件。"))
            else:
                try:
                    self.checked = check_data_file(upload)
                except ValidationError as exc:
                    self.add_error("file", exc.message_dict["file"])
        return data


class VersionForm(forms.Form):
    file = forms.FileField(label=_l("数据文件"), help_text=_l("CSV、Parquet、XLSX 或 JSON Lines。"))
    note = forms.CharField(label=_l("版本说明"), max_length=200, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            self.checked = check_data_file(upload)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["file"]) from exc
        return upload


class GradingForm(forms.Form):
    security_level = forms.ChoiceField(label=_l("安全级别"), choices=SecurityLevel.choices)
    open_type = forms.ChoiceField(label=_l("开放类型"), choices=OpenType.choices)
    note = forms.CharField(label=_l("决定理由"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        if data.get("security_level") in (SecurityLevel.IMPORTANT, SecurityLevel.CORE) \
                and data.get("open_type") == OpenType.UNCONDITIONAL:
            self.add_error("open_type", _("重要数据和核心数据不能无条件开放，请选择有条件开放或不予开放。"))
        return data


class OpenListEntryForm(forms.Form):
    name = forms.CharField(label=_l("数据项名称"), max_length=200)
    dataset = forms.ModelChoiceField(label=_l("对应数据集"), queryset=Dataset.objects.none(), required=False)
    scope = forms.CharField(label=_l("开放范围"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    open_type = forms.ChoiceField(label=_l("开放类型"), choices=OpenType.choices)
    conditions = forms.CharField(label=_l("开放条件"), max_length=1000, required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    update_frequency = forms.ChoiceField(label=_l("更新频率"), choices=Frequency.choices)

    def __init__(self, *args, department: Organization | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if department is not None:
            self.fields["dataset"].queryset = Dataset.objects.filter(publisher=department)

    def clean(self):
        data = super().clean()
        if data.get("open_type") == OpenType.CONDITIONAL and not (data.get("conditions") or "").strip():
            self.add_error("conditions", _("有条件开放的数据项须写明开放条件。"))
        return data


class ApplicationForm(forms.ModelForm):
    class Meta:
        model = AccessApplication
        fields = ["organization", "purpose", "scenario", "security_measures", "term_days"]
        widgets = {f: forms.Textarea(attrs={"rows": 3}) for f in ("purpose", "scenario", "security_measures")}

    def __init__(self, *args, enterprises=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = enterprises if enterprises is not None else Organization.objects.none()
        self.fields["organization"].required = False
        self.fields["organization"].empty_label = _("个人开发者（不代表企业）")
        self.fields["term_days"].help_text = _("1 至 730 天。")

    def clean_purpose(self):
        value = self.cleaned_data["purpose"].strip()
        if len(value) < 10:
            raise ValidationError(_("请至少用 10 个字说明使用目的。"))
        return value


class CommentForm(forms.Form):
    comment = forms.CharField(label=_l("意见"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DatasetFilterForm(forms.Form):
    q = forms.CharField(label=_l("搜索"), required=False, max_length=200)
    theme = forms.ChoiceField(label=_l("领域"), required=False, choices=[("", _l("全部"))] + Theme.choices)
    open_type = forms.ChoiceField(label=_l("开放类型"), required=False, choices=[("", _l("全部"))] + OpenType.choices)
    security_level = forms.ChoiceField(label=_l("安全级别"), required=False,
                                       choices=[("", _l("全部"))] + SecurityLevel.choices)
    publisher = forms.ModelChoiceField(label=_l("发布机构"), required=False,
                                       queryset=Organization.objects.filter(datasets__isnull=False).distinct())


def filter_datasets(qs, params):
    form = DatasetFilterForm(params)
    if not form.is_valid():
        return qs.none(), form
    data = form.cleaned_data
    for name in ("theme", "open_type", "security_level"):
        if data[name]:
            qs = qs.filter(**{name: data[name]})
    if data["publisher"]:
        qs = qs.filter(publisher=data["publisher"])
    if data["q"]:
        qs = search.filter_queryset(qs, "dataset", data["q"])
    return qs, form
