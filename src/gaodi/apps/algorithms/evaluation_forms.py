"""The evaluation request form: model file (or prediction endpoint), test set and plan are checked with
the engine on submit, so a refused file, an unsafe endpoint or a bad plan key is reported on its field
before anything is queued."""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.choices import OrgKind
from gaodi.apps.core.models import Organization
from gaodi.engines.evaluation import EvaluationError, load_plan, read_table
from gaodi.engines.evaluation.adapters.files import detect_format
from gaodi.engines.evaluation.adapters.skops_model import untrusted_types
from gaodi.engines.evaluation.adapters.ssrf import (
    is_allowlisted,
    parse_address,
    pin_endpoint,
    refusal_reason,
    system_resolver,
)

from . import evaluation_secrets as credentials

DATA_SUFFIXES = (".csv", ".parquet", ".xlsx")
DEFAULT_MAX_MODEL_BYTES = 200 * 2**20
DEFAULT_MAX_DATA_BYTES = 2**30


def max_model_bytes() -> int:
    return int(getattr(settings, "EVALUATION_MAX_MODEL_BYTES", DEFAULT_MAX_MODEL_BYTES))


def max_data_bytes() -> int:
    return int(getattr(settings, "EVALUATION_MAX_DATA_BYTES", DEFAULT_MAX_DATA_BYTES))


def upload_limits() -> dict[str, int]:
    """Per file field, the most bytes accepted (enforced while streaming, see core.uploads.LimitedUploadHandler)."""
    return {"model": max_model_bytes(), "data": max_data_bytes()}


def endpoint_allowlist() -> list[str]:
    return list(getattr(settings, "EVALUATION_ENDPOINT_ALLOWLIST", []) or [])


_ADDRESS_KINDS = {
    "loopback": _("本机回环"), "link-local": _("链路本地（含云平台元数据服务）"), "multicast": _("组播"),
    "unspecified": _("未指定"), "private": _("内网"), "reserved": _("保留"), "not globally routable": _("非公网"),
}


def check_endpoint(url: str) -> None:
    """Raise a field error (in plain words, with the fix) unless `url` is an http(s) URL whose host
    resolves only to public addresses or to addresses the operator allowlisted (the SSRF rule)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise forms.ValidationError(_("预测接口地址须以 http:// 或 https:// 开头。"))
    if not parts.hostname:
        raise forms.ValidationError(_("预测接口地址缺少主机名，例如 https://model.example.com/predict。"))
    if parts.username or parts.password:
        raise forms.ValidationError(_("预测接口地址不能包含用户名或密码。"))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise forms.ValidationError(_("预测接口地址的端口号无效。")) from None
    host, allow = parts.hostname, endpoint_allowlist()
    try:
        addresses = system_resolver(host, port)
    except EvaluationError:
        raise forms.ValidationError(_("无法解析预测接口地址的主机名 %(host)s，请检查地址是否写错。") % {"host": host}) from None
    for text in addresses:
        try:
            address = parse_address(text)
        except ValueError:
            continue  # pin_endpoint below reports it
        reason = refusal_reason(address)
        if reason is not None and not is_allowlisted(host, address, allow):
            raise forms.ValidationError(
                _("预测接口地址的主机 %(host)s 解析到 %(addr)s（%(kind)s地址）。为防止服务端请求伪造，平台不调用内网、本机、"
                  "链路本地或保留地址；请填写可从公网访问的地址，或请平台运营方把该地址加入白名单。")
                % {"host": host, "addr": address, "kind": _ADDRESS_KINDS.get(reason, reason)})
    try:
        pin_endpoint(url, allow)
    except EvaluationError as exc:
        raise forms.ValidationError(_("预测接口地址不可用：%(msg)s") % {"msg": str(exc)}) from None


@dataclass(frozen=True)
class CheckedFile:
    suffix: str
    sha256: str
    kind: str  # onnx, skops, csv, parquet, excel
    # skops: the types the file would create beyond skops' safe set (listed without loading the file)
    untrusted_types: tuple[str, ...] = ()


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
    model = forms.FileField(label=_("模型文件"), required=False,
                            help_text=_("ONNX（.onnx）或 skops（.skops）文件；不接受 pickle/joblib。与预测接口二选一。"),
                            widget=forms.ClearableFileInput(attrs={"accept": ".onnx,.skops"}))
    endpoint_url = forms.CharField(
        label=_("预测接口地址"), required=False, max_length=500,
        help_text=_("不上传模型文件时，填写模型的 HTTP 预测接口（POST JSON 行，返回预测），须可从公网访问。"),
        widget=forms.URLInput(attrs={"placeholder": "https://model.example.com/predict", "inputmode": "url"}))
    endpoint_header = forms.CharField(
        label=_("凭据请求头"), required=False, max_length=200, initial=credentials.DEFAULT_HEADER,
        help_text=_("预测接口需要凭据时，凭据放在哪个请求头里：Authorization（默认）、X-API-Key、Api-Key 或其他以 X- "
                    "开头的名称。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    endpoint_secret = forms.CharField(
        label=_("接口凭据"), required=False, strip=False,
        help_text=_("可选。请求头的完整值，例如“Bearer ”加令牌，或 API 密钥。平台加密保存，只在运行评估时发给该接口，"
                    "页面与记录中都不显示；评估结束后即删除。表单出错时须重新填写。"),
        widget=forms.PasswordInput(render_value=False, attrs={
            "autocomplete": "new-password", "spellcheck": "false", "maxlength": credentials.MAX_SECRET_LENGTH}))
    data = forms.FileField(label=_("测试数据"), help_text=_("CSV（UTF-8、GBK 或 GB18030）、Parquet 或 Excel（.xlsx）。"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.parquet,.xlsx"}))
    plan = forms.CharField(label=_("测试方案（TOML）"), max_length=50000,
                           help_text=_("目标列、特征、敏感特征与阈值，写法见评估文档。"),
                           widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}))

    checked_model: CheckedFile | None = None
    checked_data: CheckedFile
    parsed_plan = None

    def __init__(self, *args, oversize: dict[str, int] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Files cut off while streaming because they passed their limit (core.uploads.LimitedUploadHandler).
        self.oversize = dict(oversize or {})
        if "data" in self.oversize:
            self.fields["data"].required = False

    def _oversize_error(self, field: str, limit: int) -> forms.ValidationError | None:
        if field not in self.oversize:
            return None
        return forms.ValidationError(
            _("文件大小超过上限 %(max)s（上传在超过上限时即已停止接收）。请上传有代表性的样本，或请平台运营方提高上限。")
            % {"max": filesizeformat(limit)})

    def clean_plan(self) -> str:
        text = self.cleaned_data["plan"]
        try:
            plan = load_plan(text)
        except EvaluationError as exc:
            raise forms.ValidationError(_("测试方案有误：%(msg)s") % {"msg": str(exc)}) from None
        if plan.audit_mode:
            raise forms.ValidationError(_("测试方案指定了 prediction 列（审计已记录的决策）；本申请评估模型，"
                                          "请删除 prediction。"))
        self.parsed_plan = plan
        return text

    def clean_endpoint_url(self) -> str:
        url = (self.cleaned_data.get("endpoint_url") or "").strip()
        if url and (self.cleaned_data.get("model") or "model" in self.oversize):  # the model field comes first
            raise forms.ValidationError(_("已上传模型文件时不要再填写预测接口地址：二者只能选一种。"))
        if url:
            check_endpoint(url)
        return url

    def clean_endpoint_header(self) -> str:
        return credentials.clean_header(self.cleaned_data.get("endpoint_header"))

    def clean_endpoint_secret(self) -> str:
        return credentials.clean_secret(self.cleaned_data.get("endpoint_secret"))

    def clean_model(self):
        if problem := self._oversize_error("model", max_model_bytes()):
            raise problem
        upload = self.cleaned_data["model"]
        if not upload:
            return None
        if problem := _too_big(upload, max_model_bytes()):
            raise forms.ValidationError(problem)
        suffix = _suffix(upload.name)
        with tempfile.TemporaryDirectory() as tmp:
            path, sha256 = _spooled(upload, suffix, tmp)
            try:
                kind = detect_format(path)
                found = tuple(untrusted_types(path)) if kind == "skops" else ()
            except EvaluationError as exc:
                raise forms.ValidationError(str(exc).replace(str(path.name), upload.name)) from None
        self.checked_model = CheckedFile("." + kind, sha256, kind, found)
        return upload

    def clean_data(self):
        if problem := self._oversize_error("data", max_data_bytes()):
            raise problem
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

    def clean(self):
        data = super().clean()
        has_model = bool(data.get("model")) or "model" in self.oversize or "model" in self.errors
        has_endpoint = bool(data.get("endpoint_url")) or "endpoint_url" in self.errors
        if not has_model and not has_endpoint:
            self.add_error("model", _("请上传模型文件，或填写预测接口地址（二选一）。"))
        elif data.get("endpoint_url") and self.parsed_plan is not None and not self.parsed_plan.features:
            self.add_error("plan", _("使用预测接口时，测试方案须用 features 按顺序列出发送给接口的列。"))
        if data.get("endpoint_secret") and not has_endpoint:
            self.add_error("endpoint_secret", _("接口凭据只用于预测接口：上传模型文件时请不要填写凭据。"))
        elif (not data.get("endpoint_secret") and "endpoint_secret" not in self.errors
              and data.get("endpoint_header", credentials.DEFAULT_HEADER) != credentials.DEFAULT_HEADER):
            self.add_error("endpoint_secret", _("已填写凭据请求头 %(name)s，请同时填写凭据值（或清空请求头）。")
                           % {"name": data["endpoint_header"]})
        return data


class EndpointCredentialForm(forms.Form):
    """The enterprise sets, replaces or removes its endpoint's credential while the request is not running
    (evaluation_actions.set_endpoint_credential). The value is checked like on the request form."""

    endpoint_header = forms.CharField(
        label=_("凭据请求头"), required=False, max_length=200, initial=credentials.DEFAULT_HEADER,
        help_text=_("Authorization（默认）、X-API-Key、Api-Key 或其他以 X- 开头的名称。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    endpoint_secret = forms.CharField(
        label=_("新的接口凭据"), required=False, strip=False,
        help_text=_("请求头的完整值；保存后替换原有凭据。平台加密保存，页面与记录中都不显示。"),
        widget=forms.PasswordInput(render_value=False, attrs={
            "autocomplete": "new-password", "spellcheck": "false", "maxlength": credentials.MAX_SECRET_LENGTH}))
    remove = forms.BooleanField(label=_("删除凭据（接口不再需要凭据）"), required=False)

    def clean_endpoint_header(self) -> str:
        return credentials.clean_header(self.cleaned_data.get("endpoint_header"))

    def clean_endpoint_secret(self) -> str:
        return credentials.clean_secret(self.cleaned_data.get("endpoint_secret"))

    def clean(self):
        data = super().clean()
        if not data.get("remove") and not data.get("endpoint_secret") and "endpoint_secret" not in self.errors:
            self.add_error("endpoint_secret", _("请填写新的凭据值；如要删除凭据，请勾选“删除凭据”。"))
        return data


class TypeApprovalForm(forms.Form):
    """The testing institution approves, type by type, what a skops model file would create beyond
    skops' safe set. Types that can never be approved (evaluation_trust.refusal_reason) are refused
    on the field with the reason, whoever asks."""

    types = forms.MultipleChoiceField(
        label=_("批准的类型"), widget=forms.CheckboxSelectMultiple,
        help_text=_("逐项勾选您已审查、确认加载时安全的类型。"),
        error_messages={"required": _("请至少勾选一个要批准的类型。"),
                        "invalid_choice": _("%(value)s 不在该模型文件待批准的类型中。")})
    note = forms.CharField(label=_("审查说明"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=_("说明为什么这些类型是安全的（例如：numpy.dtype 只描述数组的数据类型）。"),
                           error_messages={"required": _("请填写审查说明：批准的理由会记入审计记录。")})

    def __init__(self, *args, request, **kwargs) -> None:
        from .evaluation_trust import pending_types

        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["types"].choices = [(name, name) for name in pending_types(request)]

    def clean_types(self) -> list[str]:
        from .evaluation_trust import refusal_reason

        names = list(dict.fromkeys(self.cleaned_data["types"]))
        problems = [_("%(type)s 不能批准：%(reason)s") % {"type": name, "reason": reason}
                    for name in names if (reason := refusal_reason(name)) is not None]
        if problems:
            raise forms.ValidationError(problems)
        return sorted(names)
