"""The evaluation request form: model file, test set and plan are checked with the engine on submit,
so a refused file or a bad plan key is reported on its field before anything is queued."""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.choices import OrgKind
from gaodi.apps.core.models import Organization
from gaodi.engines.evaluation import EvaluationError, load_plan, read_table
from gaodi.engines.evaluation.adapters.files import detect_format

DATA_SUFFIXES = (".csv", ".parquet", ".xlsx")
DEFAULT_MAX_MODEL_BYTES = 200 * 2**20
DEFAULT_MAX_DATA_BYTES = 2**30


def max_model_bytes() -> int:
    return int(getattr(settings, "EVALUATION_MAX_MODEL_BYTES", DEFAULT_MAX_MODEL_BYTES))


def max_data_bytes() -> int:
    return int(getattr(settings, "EVALUATION_MAX_DATA_BYTES", DEFAULT_MAX_DATA_BYTES))


@dataclass(frozen=True)
class CheckedFile:
    suffix: str
    sha256: str
    kind: str  # onnx, skops, csv, parquet, excel


def _suffix(name: str) -> str:
    suffix = Path(name or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""


def _spooled(upload, suffix: str, directory: str) -> tuple[Path, str]:
    """Copy the upload to a temporary file (the engine reads paths); return it with its SHA-256."""
    digest = hashlib.sha256()
    path = Path(directory) / f"upload{suffix}"
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            digest.update(chunk)
            handle.write(chunk)
    upload.seek(0)
    return path, digest.hexdigest()


def _too_big(upload, limit: int) -> str | None:
    if upload.size > limit:
        return str(_("文件大小 %(size)s 超过上限 %(max)s。") % {"size": filesizeformat(upload.size),
                                                          "max": filesizeformat(limit)})
    if upload.size == 0:
        return str(_("文件为空，请选择正确的文件。"))
    return None


class EvaluationRequestForm(forms.Form):
    institution = forms.ModelChoiceField(
        queryset=Organization.objects.filter(kind=OrgKind.TESTING_INSTITUTION).order_by("name"),
        label=_("检测评估机构"), help_text=_("由您选择的经认可的第三方检测评估机构受理并运行评估。"))
    model = forms.FileField(label=_("模型文件"), help_text=_("ONNX（.onnx）或 skops（.skops）文件；不接受 pickle/joblib。"),
                            widget=forms.ClearableFileInput(attrs={"accept": ".onnx,.skops"}))
    data = forms.FileField(label=_("测试数据"), help_text=_("CSV（UTF-8、GBK 或 GB18030）、Parquet 或 Excel（.xlsx）。"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.parquet,.xlsx"}))
    plan = forms.CharField(label=_("测试方案（TOML）"), max_length=50000,
                           help_text=_("目标列、特征、敏感特征与阈值，写法见评估文档。"),
                           widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}))

    checked_model: CheckedFile
    checked_data: CheckedFile

    def clean_plan(self) -> str:
        text = self.cleaned_data["plan"]
        try:
            load_plan(text)
        except EvaluationError as exc:
            raise forms.ValidationError(_("测试方案有误：%(msg)s") % {"msg": str(exc)}) from None
        return text

    def clean_model(self):
        upload = self.cleaned_data["model"]
        if problem := _too_big(upload, max_model_bytes()):
            raise forms.ValidationError(problem)
        suffix = _suffix(upload.name)
        with tempfile.TemporaryDirectory() as tmp:
            path, sha256 = _spooled(upload, suffix, tmp)
            try:
                kind = detect_format(path)
            except EvaluationError as exc:
                raise forms.ValidationError(str(exc).replace(str(path.name), upload.name)) from None
        self.checked_model = CheckedFile("." + kind, sha256, kind)
        return upload

    def clean_data(self):
        upload = self.cleaned_data["data"]
        if problem := _too_big(upload, max_data_bytes()):
            raise forms.ValidationError(problem)
        suffix = _suffix(upload.name)
        if suffix not in DATA_SUFFIXES:
            raise forms.ValidationError(_("测试数据须为 CSV（.csv）、Parquet（.parquet）或 Excel（.xlsx）文件。"))
        with tempfile.TemporaryDirectory() as tmp:
            path, sha256 = _spooled(upload, suffix, tmp)
            try:
                table = read_table(path, max_bytes=max_data_bytes())
            except EvaluationError as exc:
                raise forms.ValidationError(str(exc).replace(str(path.name), upload.name)) from None
        self.checked_data = CheckedFile(suffix, sha256, table.format)
        return upload
