"""Forms of the compute platform. The same forms validate web posts, API payloads and the demo loader;
each error names the field and says how to fix it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gaodi.apps.algorithms.forms import clean_text
from gaodi.apps.core.choices import OrgKind
from gaodi.apps.core.models import Organization
from gaodi.engines.compute.backends import MAX_SCRIPT_BYTES
from gaodi.engines.compute.backends.base import MAX_ACCELERATORS

from . import bridge, runners
from .choices import DataGrade, Level, Preference, Region, Workload
from .models import Pool, Site, SubsidyProgram, Voucher, VoucherApplication

MAX_HOURS = Decimal("8784")  # a year (366 days); the engine refuses longer runs
MAX_DATA_GB = Decimal("10000000")


def max_script_bytes() -> int:
    return int(getattr(settings, "GAODI_COMPUTE_MAX_SCRIPT_BYTES", MAX_SCRIPT_BYTES))


def _text_fields(data: dict, *names: str) -> None:
    for name in names:
        if isinstance(data.get(name), str):
            data[name] = clean_text(data[name])


# ---- providers ----------------------------------------------------------------------------------

class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = ("code", "name", "hub", "region", "pue", "green_share", "latency_ms")

    def clean(self):
        data = super().clean()
        _text_fields(data, "name")
        if "code" in data and isinstance(data["code"], str):
            data["code"] = data["code"].strip().lower()
        return data


def format_options(options: dict) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted((options or {}).items()))


class PoolForm(forms.ModelForm):
    accelerator = forms.ChoiceField(label=_("加速卡型号"), choices=())
    memory_gb = forms.IntegerField(label=_("单卡显存（GB）"), required=False, min_value=1, max_value=4096,
                                   help_text=_("留空则取该型号的标准显存。"))
    backend_options = forms.CharField(
        label=_("后端参数"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("每行一项“名称=值”。Slurm：partition（分区）、account（账户）、gres（加速卡的通用资源名，none 表示不按通用资源申请）；"
                    "本地进程：accelerators（本机可用加速卡数）。可留空。"))

    class Meta:
        model = Pool
        fields = ("site", "code", "accelerator", "count", "per_node", "memory_gb", "price_per_hour", "backend",
                  "backend_options", "active")

    def __init__(self, *args, provider_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(provider_id__in=provider_ids).order_by("code")
        self.fields["site"].error_messages["invalid_choice"] = _("请选择本提供方登记的站点。")
        self.fields["per_node"].required = False
        if self.instance.pk:  # an edit may leave the site as it is
            self.fields["site"].required = False
        self.fields["per_node"].help_text = _("留空为 8。数量须为每节点卡数的整数倍。")
        known = sorted(bridge.known_accelerators())
        choices = [(m, m) for m in known]
        current = self.instance.accelerator if self.instance and self.instance.pk else ""
        if current and current not in known:
            choices.append((current, current))
        self.fields["accelerator"].choices = choices
        self.fields["accelerator"].error_messages["invalid_choice"] = _(
            "未知的加速卡型号“%(value)s”：请从列表中选择；如需新增型号，请联系平台运营方。")
        if not self.is_bound and self.instance.pk:
            self.initial["backend_options"] = format_options(self.instance.backend_options)

    def clean_backend_options(self):
        options = {}
        for number, line in enumerate((self.cleaned_data.get("backend_options") or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise forms.ValidationError(gettext("第 %(n)d 行“%(line)s”应写成“名称=值”，如 partition=gpu。")
                                            % {"n": number, "line": line[:40]})
            options[key.strip()] = value.strip()
        return options

    def clean(self):
        data = super().clean()
        if "backend_options" in data and data.get("backend"):
            try:
                data["backend_options"] = runners.clean_pool_options(data["backend"], data["backend_options"])
            except ValueError as exc:
                self.add_error("backend_options", str(exc))
        if self.instance.pk and not data.get("site") and "site" not in self.errors:
            data["site"] = self.instance.site
        if not data.get("per_node") and "per_node" not in self.errors:
            data["per_node"] = 8
        count, per_node = data.get("count"), data.get("per_node")
        if count and per_node and count % per_node:
            self.add_error("count", gettext("%(count)d 张卡不能均分到每节点 %(per)d 张：请填写每节点卡数的整数倍。")
                           % {"count": count, "per": per_node})
        model = data.get("accelerator")
        if model and not data.get("memory_gb"):
            facts = bridge.known_accelerators().get(model)
            if facts is None:
                self.add_error("memory_gb", _("请填写单卡显存。"))
            else:
                data["memory_gb"] = facts.memory_gb
        if "code" in data and isinstance(data["code"], str):
            data["code"] = data["code"].strip().lower()
        return data


# ---- subsidy programmes -------------------------------------------------------------------------

class ProgramForm(forms.ModelForm):
    class Meta:
        model = SubsidyProgram
        fields = ("code", "name", "level", "district", "rate", "budget", "valid_from", "valid_to", "sme_only",
                  "max_startup_age_years", "large_model_developer_only", "per_enterprise_annual_cap",
                  "max_voucher_amount", "providers", "description")
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                   "valid_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                   "description": forms.Textarea(attrs={"rows": 3}),
                   "providers": forms.CheckboxSelectMultiple}

    def __init__(self, *args, departments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["providers"].queryset = Organization.objects.filter(kind=OrgKind.COMPUTE_PROVIDER)
        if departments is not None and len(departments) > 1 and not self.instance.pk:
            self.fields["department"] = forms.ModelChoiceField(
                queryset=Organization.objects.filter(pk__in=[d.pk for d in departments]), label=_("主管部门"))
            self.order_fields(["department"])

    def clean(self):
        data = super().clean()
        _text_fields(data, "name", "description")
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("有效期止不能早于有效期起。"))
        level = data.get("level")
        if level == Level.DISTRICT and not data.get("district"):
            self.add_error("district", _("区级项目须选择适用区。"))
        if level == Level.CITY and data.get("district"):
            data["district"] = ""
        rate = data.get("rate")
        cap = bridge.stacking_rules().city_rate_cap
        if level == Level.CITY and rate is not None and rate > cap:
            self.add_error("rate", gettext("市级补贴合计不超过挂牌价的 %(cap)s%%：请把补贴比例调到不超过 %(max)s。")
                           % {"cap": format((cap * 100).normalize(), "f"), "max": format(cap.normalize(), "f")})
        if "code" in data and isinstance(data["code"], str):
            data["code"] = data["code"].strip().lower()
        return data


# ---- voucher applications -----------------------------------------------------------------------

class ApplicationForm(forms.ModelForm):
    class Meta:
        model = VoucherApplication
        fields = ("program", "amount_requested", "purpose")
        widgets = {"purpose": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["program"].queryset = SubsidyProgram.objects.filter(valid_from__lte=today, valid_to__gte=today)
        self.fields["program"].error_messages["invalid_choice"] = _("请选择一个正在受理的补贴项目。")
        self.fields["purpose"].help_text = _("说明算力用于什么项目、预计用量（卡时）和时间安排，至少 10 个字。")

    def clean(self):
        data = super().clean()
        _text_fields(data, "purpose")
        purpose = data.get("purpose")
        if purpose is not None and len(purpose) < 10:
            self.add_error("purpose", _("用途说明至少需要 10 个字，请说明算力用途和预计用量。"))
        program, amount = data.get("program"), data.get("amount_requested")
        if program and amount and program.max_voucher_amount and amount > program.max_voucher_amount:
            self.add_error("amount_requested", gettext("该项目单张算力券面额上限为 %(max)s 元，请调低申请金额。")
                           % {"max": program.max_voucher_amount})
        return data


class DecisionForm(forms.Form):
    comment = forms.CharField(label=_("审核意见"), required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    approved_amount = forms.DecimalField(label=_("批准金额（元）"), required=False, max_digits=16, decimal_places=2,
                                         min_value=Decimal("0.01"),
                                         help_text=_("留空则按申请金额批准；不能超过申请金额和项目剩余预算。"))


# ---- jobs ---------------------------------------------------------------------------------------

class VoucherChoiceField(forms.MultipleChoiceField):
    """Vouchers by id or number. The widget offers the firm's own usable vouchers; any other value is looked
    up and refused with a clear reason (another firm's, expired, used up) instead of a generic error."""

    def valid_value(self, value) -> bool:
        return True

    def clean(self, value):
        values = super().clean(value)
        vouchers = []
        for raw in values:
            raw = str(raw).strip()
            voucher = Voucher.objects.select_related("program").filter(number=raw).first()
            if voucher is None and raw.isdigit():
                voucher = Voucher.objects.select_related("program").filter(pk=int(raw)).first()
            if voucher is None:
                raise forms.ValidationError(gettext("找不到算力券“%(v)s”，请核对券号。") % {"v": raw[:40]})
            vouchers.append(voucher)
        return vouchers


class AcceleratorChoiceField(forms.MultipleChoiceField):
    """Accelerator models, accepted in any spelling the catalog accepts ("mlu-370" = "MLU370")."""

    def to_python(self, value):
        values = super().to_python(value)
        offered = {ec_normalize(str(k)): str(k) for k, _label in self.choices}
        return [offered.get(ec_normalize(v), v) for v in values]


def ec_normalize(name: str) -> str:
    from gaodi.engines.compute.catalog import normalize_model

    return normalize_model(name)


class JobForm(forms.Form):
    name = forms.CharField(label=_("作业名称"), max_length=100)
    script = forms.CharField(
        label=_("作业脚本"), strip=False, widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_("bash 脚本，如 python train.py。环境变量 DATA_LOCATION 为数据位置。"))
    accelerators = forms.IntegerField(
        label=_("加速卡数"), min_value=1, max_value=MAX_ACCELERATORS,
        error_messages={"min_value": _("加速卡数至少为 1。"),
                        "max_value": _("加速卡数不能超过 %(limit_value)s，请拆分作业。")})
    accelerator_models = AcceleratorChoiceField(
        label=_("可接受的加速卡型号"), widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("未知的加速卡型号“%(value)s”：请从平台资源池提供的型号中选择。"),
                        "required": _("请至少选择一种可接受的加速卡型号。")})
    estimated_hours = forms.DecimalField(
        label=_("预计运行时长（小时）"), max_digits=8, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_HOURS,
        error_messages={"min_value": _("预计时长须大于 0，如 0.5 表示半小时。"),
                        "max_value": _("预计时长不能超过一年（8784 小时），请拆分作业。")},
        help_text=_("超过预计时长的 1.25 倍时作业会被停止。"))
    deadline = forms.DateTimeField(label=_("截止时间"), required=False,
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                   help_text=_("可留空。须晚于现在加上预计时长。"))
    data_region = forms.ChoiceField(label=_("数据所在地区"), choices=Region.choices, initial=Region.SHANGHAI)
    data_may_leave = forms.BooleanField(label=_("数据可以离开所在地区"), required=False, initial=True,
                                        help_text=_("不勾选时只在数据所在地区调度。重要数据和核心数据一律不出本地区。"))
    data_grade = forms.ChoiceField(label=_("数据分级"), choices=DataGrade.choices, initial=DataGrade.GENERAL)
    data_size_gb = forms.DecimalField(label=_("数据量（GB）"), required=False, min_value=Decimal("0"),
                                      max_value=MAX_DATA_GB, max_digits=12, decimal_places=2,
                                      error_messages={"min_value": _("数据量不能为负数。"),
                                                      "max_value": _("数据量超过上限（10 PB）。")})
    data_location = forms.CharField(label=_("数据位置"), required=False, max_length=300,
                                    help_text=_("数据在算力站点上的路径或存储地址，可留空。"))
    workload = forms.ChoiceField(label=_("作业类型"), choices=Workload.choices, initial=Workload.TRAINING)
    preference = forms.ChoiceField(label=_("调度偏好"), choices=Preference.choices, initial=Preference.CHEAPEST)
    budget_cap = forms.DecimalField(label=_("预算上限（元）"), required=False, min_value=Decimal("0.01"),
                                    max_digits=16, decimal_places=2, help_text=_("可留空。补贴后仍超出的资源池不予考虑。"))
    vouchers = VoucherChoiceField(label=_("使用的算力券"), required=False, widget=forms.CheckboxSelectMultiple)
    pool = forms.ChoiceField(label=_("资源池"), required=False,
                             help_text=_("留空则按报价推荐的最优资源池提交。"))

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        pools = list(bridge.active_pools())
        models = sorted({bridge.canonical_accelerator(p.accelerator) or p.accelerator for p in pools})
        self.fields["accelerator_models"].choices = [(m, m) for m in models]
        self.fields["pool"].choices = [("", _("自动选择（推荐）"))] + [
            (p.code, f"{p.code} · {p.accelerator} · {p.site.get_hub_display()}") for p in pools]
        self.fields["pool"].error_messages["invalid_choice"] = _("资源池“%(value)s”不存在或已停止对外提供，请重新选择。")
        if organization is not None:
            self.fields["vouchers"].choices = [
                (str(v.pk), f"{v.number} · {v.program.name} · {gettext('余额')} ¥{v.balance} · "
                            f"{gettext('到期')} {v.expires_on:%Y-%m-%d}")
                for v in bridge.usable_vouchers(organization)]
            if not self.is_bound:
                self.initial.setdefault("vouchers", [c[0] for c in self.fields["vouchers"].choices])
        self.pools = pools
        self.largest_pool = max((p.count for p in pools), default=0)

    def clean_script(self):
        script = self.cleaned_data["script"]
        if not script.strip():
            raise forms.ValidationError(_("作业脚本不能为空。"))
        if "\x00" in script:
            raise forms.ValidationError(_("作业脚本不能包含 NUL 字符。"))
        size, limit = len(script.encode("utf-8")), max_script_bytes()
        if size > limit:
            raise forms.ValidationError(
                gettext("作业脚本为 %(size)s 字节，超过上限 %(limit)s 字节：请把大段代码放在数据位置的文件中，由脚本调用。")
                % {"size": f"{size:,}", "limit": f"{limit:,}"})
        return script.replace("\r\n", "\n")

    def clean_accelerators(self):
        n = self.cleaned_data["accelerators"]
        if self.largest_pool and n > self.largest_pool:
            raise forms.ValidationError(gettext("平台最大的资源池只有 %(max)d 张卡，请把加速卡数调到 %(max)d 以下或拆分作业。")
                                        % {"max": self.largest_pool})
        return n

    def clean_vouchers(self):
        vouchers = self.cleaned_data["vouchers"]
        if self.organization is not None:
            check_vouchers(self.organization, vouchers)
        return vouchers

    def clean(self):
        data = super().clean()
        _text_fields(data, "name", "data_location")
        deadline, hours = data.get("deadline"), data.get("estimated_hours")
        now = timezone.now()
        if deadline is not None:
            if deadline <= now:
                self.add_error("deadline", _("截止时间已经过去，请填写未来的时间，或留空。"))
            elif hours is not None and now + timedelta(hours=float(hours)) > deadline:
                self.add_error("deadline", gettext("作业预计需要 %(h)s 小时，截止时间前来不及完成：请推迟截止时间或缩短作业。")
                               % {"h": f"{hours:g}"})
        if data.get("data_size_gb") is None:
            data["data_size_gb"] = Decimal("0")
        self._check_largest_able_pool(data)
        return data

    def _check_largest_able_pool(self, data: dict) -> None:
        """More accelerators than the largest pool that could take the job (an accepted model; in the data's
        region when the data may not leave it) is refused on the field, naming that pool."""
        n, models = data.get("accelerators"), data.get("accelerator_models")
        if not n or not models or "accelerators" in self.errors:
            return
        region = data.get("data_region")
        must_stay = not data.get("data_may_leave") or data.get("data_grade") in (DataGrade.IMPORTANT, DataGrade.CORE)
        able = [p for p in self.pools if (bridge.canonical_accelerator(p.accelerator) or p.accelerator) in models
                and (not must_stay or p.site.region == region)]
        if not able:
            return  # nothing can take it at all: the placement says why, pool by pool
        biggest = max(able, key=lambda p: (p.count, p.code))
        if n <= biggest.count:
            return
        values = {"models": " / ".join(models), "pool": biggest.code, "max": biggest.count,
                  "region": Region(region).label if region in Region.values else region}
        if must_stay:
            message = gettext("数据不能离开%(region)s，该地区 %(models)s 型号最大的资源池 %(pool)s 只有 %(max)d 张卡："
                              "请把加速卡数调到 %(max)d 以下、接受其他型号或拆分作业。") % values
        else:
            message = gettext("%(models)s 型号最大的资源池 %(pool)s 只有 %(max)d 张卡："
                              "请把加速卡数调到 %(max)d 以下、接受其他型号或拆分作业。") % values
        self.add_error("accelerators", message)


def check_vouchers(organization, vouchers, on=None) -> None:
    """Refuse vouchers the firm may not use now, naming each and why."""
    on = on or timezone.localdate()
    errors = []
    for v in vouchers:
        if v.organization_id != organization.pk:
            errors.append(gettext("算力券 %(no)s 不属于本企业，不能使用。") % {"no": v.number})
        elif on > v.expires_on or v.lapsed_at is not None:
            errors.append(gettext("算力券 %(no)s 已于 %(d)s 到期，不能使用。") % {"no": v.number, "d": v.expires_on})
        elif on < v.valid_from:
            errors.append(gettext("算力券 %(no)s 自 %(d)s 起才生效。") % {"no": v.number, "d": v.valid_from})
        elif v.balance <= 0:
            errors.append(gettext("算力券 %(no)s 余额已用完。") % {"no": v.number})
    if errors:
        raise forms.ValidationError(errors)

