"""Validation shared by the web pages, the API and the demo loader."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import wraps

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from gaodi.apps.core import search
from gaodi.apps.core.models import Organization
from gaodi.apps.core.uploads import install_upload_limit
from gaodi.engines.dataquality import EncodingError, ReadOptions
from gaodi.engines.dataquality.encoding import TextDecoder

from .models import AccessApplication, Dataset, Frequency, OpenType, ResourceKind, SecurityLevel, Theme

DATA_FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "excel", ".jsonl": "jsonl"}
_BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"MZ", b"\x7fELF", bytes.fromhex("D0CF11E0A1B11AE1"), b"\x89PNG",
                 b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"PAR1")


def max_upload_bytes() -> int:
    return int(getattr(settings, "GAODI_DATA_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))


def limit_uploads(view):
    """Stop storing any uploaded file at the data upload limit (core.uploads.LimitedUploadHandler). Upload
    handlers must be set before the body is read, and the CSRF check reads it, so the check runs inside
    (Django's documented pattern for per-view handlers)."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        install_upload_limit(request, default=max_upload_bytes())
        return protected(request, *args, **kwargs)

    return wrapped


def oversize_message(name: str, received: int) -> str:
    return (_("文件“%(name)s”超过上限 %(max)s（接收到 %(size)s 时已停止接收），请拆分或压缩为 Parquet 后重新上传。")
            % {"name": name, "max": filesizeformat(max_upload_bytes()), "size": filesizeformat(received)})


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
    if ext in (".csv", ".jsonl") and not (head.startswith(_BINARY_MAGIC) or b"\x00" in head):
        problem = _encoding_problem(head, upload.name or "", complete=upload.size <= len(head))
        if problem:
            raise ValidationError({field: _("文件编码有误：%(detail)s。请把整个文件统一另存为 UTF-8（或 GB18030）后重新上传。")
                                   % {"detail": problem}})
    if not _content_matches(upload, ext, head):
        raise ValidationError({field: _("文件内容与扩展名 %(ext)s 不符（可能是改名的其他类型文件），已拒绝。"
                                        "请上传真实的数据文件。") % {"ext": ext}})
    if ext == ".xlsx":
        _check_workbook_size(upload, field)
    return CheckedData(ext, DATA_FORMATS[ext], digest.hexdigest(), upload.size)


def _check_workbook_size(upload, field: str) -> None:
    """The engine's Excel limits, applied at upload from the zip's directory (nothing is decompressed):
    a workbook over the size limit, or one whose parts declare a huge or implausibly compressed total
    (a zip bomb), is refused here. A directory that lies is caught by the engine while streaming."""
    limits = ReadOptions()
    if upload.size > limits.max_excel_bytes:
        raise ValidationError({field: _("Excel 文件超过 %(max)s，无法逐行读取；请另存为 CSV 或 Parquet 后上传。")
                               % {"max": filesizeformat(limits.max_excel_bytes)}})
    try:
        with zipfile.ZipFile(upload) as zf:
            infos = zf.infolist()
    finally:
        upload.seek(0)
    declared = sum(i.file_size for i in infos)
    compressed = max(1, sum(i.compress_size for i in infos))
    if len(infos) > 10_000 or declared > limits.max_excel_uncompressed_bytes or (
            declared > (1 << 20) and declared / compressed > limits.max_excel_ratio):
        raise ValidationError({field: _("该 Excel 文件解压后将达 %(size)s（压缩比 %(ratio)s 倍），疑似“压缩炸弹”，已拒绝。"
                                        "请检查文件，或另存为 CSV 后上传。")
                               % {"size": filesizeformat(declared), "ratio": f"{declared / compressed:,.0f}"}})


def _encoding_problem(head: bytes, name: str, complete: bool) -> str:
    """The engine's encoding check on the whole lines of the first 64 KiB: a file that mixes encodings
    there is refused at upload, naming the line. Later lines are checked by the quality report."""
    sample = head if complete else head[:head.rfind(b"\n") + 1]
    try:
        for _block in TextDecoder(io.BytesIO(sample), path=name, chunk_bytes=len(sample) + 1).blocks():
            pass
    except EncodingError as exc:
        return str(exc)
    return ""


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
            # Only the central directory is read (the upload is seekable): nothing is decompressed here.
            with zipfile.ZipFile(upload) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, RuntimeError, ValueError, OSError):
            return False
        finally:
            upload.seek(0)
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
    name = forms.CharField(label=gettext_lazy("资源名称"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("资源类型"), choices=ResourceKind.choices)
    url = forms.URLField(label=gettext_lazy("接口地址"), required=False, assume_scheme="https", help_text=gettext_lazy("资源类型为接口时填写，须为 https 地址。"))
    file = forms.FileField(label=gettext_lazy("数据文件"), required=False,
                           help_text=gettext_lazy("CSV、Parquet、XLSX 或 JSON Lines，上传后自动进行质量检测。"))
    note = forms.CharField(label=gettext_lazy("版本说明"), max_length=200, required=False)

    def __init__(self, *args, oversize: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.oversize = oversize or {}

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == ResourceKind.API:
            url = data.get("url") or ""
            if not url.startswith("https://"):
                self.add_error("url", _("接口资源须填写 https:// 开头的接口地址。"))
        elif kind == ResourceKind.FILE:
            upload = data.get("file")
            if not upload and "file" in self.oversize:
                self.add_error("file", oversize_message(*self.oversize["file"]))
            elif not upload:
                self.add_error("file", _("文件资源须上传数据文件。"))
            else:
                try:
                    self.checked = check_data_file(upload)
                except ValidationError as exc:
                    self.add_error("file", exc.message_dict["file"])
        return data


class VersionForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("数据文件"), required=False, widget=forms.ClearableFileInput(attrs={"required": True}),
                           help_text=gettext_lazy("CSV、Parquet、XLSX 或 JSON Lines。"))
    note = forms.CharField(label=gettext_lazy("版本说明"), max_length=200, required=False)

    def __init__(self, *args, oversize: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.oversize = oversize or {}

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if not upload:
            if "file" in self.oversize:
                raise ValidationError(oversize_message(*self.oversize["file"]))
            raise ValidationError(_("请选择要上传的数据文件。"))
        try:
            self.checked = check_data_file(upload)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["file"]) from exc
        return upload


class GradingForm(forms.Form):
    security_level = forms.ChoiceField(label=gettext_lazy("安全级别"), choices=SecurityLevel.choices)
    open_type = forms.ChoiceField(label=gettext_lazy("开放类型"), choices=OpenType.choices)
    note = forms.CharField(label=gettext_lazy("决定理由"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        if data.get("security_level") in (SecurityLevel.IMPORTANT, SecurityLevel.CORE) \
                and data.get("open_type") == OpenType.UNCONDITIONAL:
            self.add_error("open_type", _("重要数据和核心数据不能无条件开放，请选择有条件开放或不予开放。"))
        return data


class OpenListEntryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("数据项名称"), max_length=200)
    dataset = forms.ModelChoiceField(label=gettext_lazy("对应数据集"), queryset=Dataset.objects.none(), required=False)
    scope = forms.CharField(label=gettext_lazy("开放范围"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    open_type = forms.ChoiceField(label=gettext_lazy("开放类型"), choices=OpenType.choices)
    conditions = forms.CharField(label=gettext_lazy("开放条件"), max_length=1000, required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    update_frequency = forms.ChoiceField(label=gettext_lazy("更新频率"), choices=Frequency.choices)

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


class GrantRevokeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("撤销理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=gettext_lazy("将通知被授权人，并记入审计日志。"))

    def clean_reason(self):
        value = self.cleaned_data["reason"].strip()
        if len(value) < 4:
            raise ValidationError(_("请说明撤销理由（至少 4 个字），被授权人会看到它。"))
        return value


class CommentForm(forms.Form):
    comment = forms.CharField(label=gettext_lazy("意见"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DatasetFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False, max_length=200)
    theme = forms.ChoiceField(label=gettext_lazy("领域"), required=False, choices=[("", gettext_lazy("全部"))] + Theme.choices)
    open_type = forms.ChoiceField(label=gettext_lazy("开放类型"), required=False, choices=[("", gettext_lazy("全部"))] + OpenType.choices)
    security_level = forms.ChoiceField(label=gettext_lazy("安全级别"), required=False,
                                       choices=[("", gettext_lazy("全部"))] + SecurityLevel.choices)
    publisher = forms.ModelChoiceField(label=gettext_lazy("发布机构"), required=False,
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
