"""The public compute platform (Art. 12-13): providers' sites and pools, subsidy programs, compute voucher
(算力券) applications and vouchers, batch jobs, and the double-entry ledger that bills them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.choices import District
from gaodi.apps.core.models import InsertOnlyModel, Organization

from .choices import (
    ON_BACKEND_STATES,
    TERMINAL_JOB_STATES,
    AccountKind,
    ApplicationState,
    BackendKind,
    DataGrade,
    Hub,
    JobState,
    Level,
    Preference,
    Region,
    TransactionKind,
    Workload,
)

ZERO = Decimal("0")
code_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{1,39}$",
                                _("编码由小写字母、数字和连字符组成，2 至 40 个字符，如 sh-lingang-910b。"))


def _money_field(label, **kw):
    return models.DecimalField(label, max_digits=16, decimal_places=2, **kw)


# ---- supply: providers' sites and pools ---------------------------------------------------------

class Site(models.Model):
    """A data centre of a compute provider (an Organization of kind compute_provider)."""

    provider = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="compute_sites",
                                 verbose_name=_("算力提供方"))
    code = models.CharField(_("站点编码"), max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(_("站点名称"), max_length=100)
    hub = models.CharField(_("国家枢纽"), max_length=32, choices=Hub.choices,
                           help_text=_("“东数西算”八大国家算力枢纽之一（条例第十三条）。"))
    region = models.CharField(_("所在地区"), max_length=20, choices=Region.choices)
    pue = models.DecimalField(_("电能利用效率 PUE"), max_digits=4, decimal_places=2,
                              validators=[MinValueValidator(Decimal("1.00")), MaxValueValidator(Decimal("3.00"))],
                              help_text=_("1.00 至 3.00，越低越节能。"))
    green_share = models.DecimalField(_("绿电占比"), max_digits=4, decimal_places=3,
                                      validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("1"))],
                                      help_text=_("0 至 1，如 0.55 表示 55%。"))
    latency_ms = models.DecimalField(_("到上海的网络时延（毫秒）"), max_digits=7, decimal_places=2,
                                     validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("1000"))])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("算力站点")
        verbose_name_plural = _("算力站点")
        ordering = ["hub", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Pool(models.Model):
    """A pool of one accelerator model at a site, with its list price and the backend that runs its jobs."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="pools", verbose_name=_("站点"))
    code = models.CharField(_("资源池编码"), max_length=40, unique=True, validators=[code_validator])
    accelerator = models.CharField(_("加速卡型号"), max_length=40)
    count = models.PositiveIntegerField(_("加速卡数量"),
                                        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)])
    per_node = models.PositiveSmallIntegerField(_("每节点加速卡数"), default=8,
                                                validators=[MinValueValidator(1), MaxValueValidator(64)])
    memory_gb = models.PositiveIntegerField(_("单卡显存（GB）"),
                                            validators=[MinValueValidator(1), MaxValueValidator(4096)])
    price_per_hour = models.DecimalField(
        _("挂牌价（元/卡时）"), max_digits=10, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("10000"))],
        help_text=_("每张加速卡每小时的挂牌价，未扣除算力券补贴。"))
    backend = models.CharField(_("调度后端"), max_length=10, choices=BackendKind.choices, default=BackendKind.LOCAL)
    backend_options = models.JSONField(
        _("后端参数"), default=dict, blank=True,
        help_text=_("该资源池在调度后端上的参数，如 Slurm 的分区（partition）和账户（account）。"))
    active = models.BooleanField(_("对外提供"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("算力资源池")
        verbose_name_plural = _("算力资源池")
        ordering = ["site__hub", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=1), name="compute_pool_count_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.accelerator} × {self.count}"

    @property
    def provider(self) -> Organization:
        return self.site.provider

    @property
    def in_use(self) -> int:
        """Accelerators held by running jobs now (annotated by `with_capacity` when listed)."""
        value = getattr(self, "_in_use", None)
        if value is None:
            value = self.jobs.filter(state=JobState.RUNNING).aggregate(n=models.Sum("accelerators"))["n"] or 0
        return int(value)

    @property
    def free(self) -> int:
        return max(0, self.count - self.in_use)


# ---- subsidies: programs, voucher applications and vouchers --------------------------------------

class SubsidyProgram(models.Model):
    """A source of compute subsidy (a city voucher programme, a district top-up), run by a department."""

    code = models.CharField(_("项目编码"), max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(_("项目名称"), max_length=100)
    department = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="compute_programs",
                                   verbose_name=_("主管部门"))
    level = models.CharField(_("层级"), max_length=10, choices=Level.choices, default=Level.CITY)
    district = models.CharField(_("适用区"), max_length=6, choices=District.choices, blank=True,
                                help_text=_("区级项目只补贴注册在该区的企业。"))
    rate = models.DecimalField(_("补贴比例"), max_digits=5, decimal_places=4,
                               validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(Decimal("1"))],
                               help_text=_("按挂牌价的比例补贴，如 0.3 表示 30%。"))
    budget = _money_field(_("预算总额（元）"), validators=[MinValueValidator(ZERO)])
    valid_from = models.DateField(_("有效期起"))
    valid_to = models.DateField(_("有效期止"))
    sme_only = models.BooleanField(_("仅限中小企业"), default=False)
    max_startup_age_years = models.DecimalField(
        _("初创企业成立年限上限（年）"), max_digits=4, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("50"))],
        help_text=_("留空表示不限成立年限。"))
    large_model_developer_only = models.BooleanField(
        _("仅限大模型研发企业"), default=False,
        help_text=_("以企业有已备案的生成合成类算法为准。"))
    per_enterprise_annual_cap = _money_field(_("每家企业年度补贴上限（元）"), null=True, blank=True,
                                             validators=[MinValueValidator(ZERO)])
    max_voucher_amount = _money_field(_("单张算力券面额上限（元）"), null=True, blank=True,
                                      validators=[MinValueValidator(Decimal("0.01"))])
    providers = models.ManyToManyField(Organization, blank=True, related_name="+",
                                       verbose_name=_("限定算力提供方"),
                                       help_text=_("留空表示可用于任何提供方的算力。"))
    description = models.TextField(_("说明"), max_length=2000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("算力补贴项目")
        verbose_name_plural = _("算力补贴项目")
        ordering = ["-valid_to", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__gte=models.F("valid_from")), name="compute_program_dates"),
            models.CheckConstraint(condition=Q(rate__gt=0) & Q(rate__lte=1), name="compute_program_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def is_open(self, on) -> bool:
        return self.valid_from <= on <= self.valid_to

    @property
    def rate_percent(self) -> str:
        """The rate as a percentage for people: Decimal("0.3000") -> "30%"."""
        return f"{format((self.rate * 100).normalize(), 'f')}%"


class VoucherApplication(models.Model):
    """An enterprise's application for a compute voucher (算力券申请), reviewed by the program's department."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="voucher_applications",
                                     verbose_name=_("申请企业"))
    program = models.ForeignKey(SubsidyProgram, on_delete=models.PROTECT, related_name="applications",
                                verbose_name=_("补贴项目"))
    amount_requested = _money_field(_("申请金额（元）"), validators=[MinValueValidator(Decimal("0.01"))])
    purpose = models.TextField(_("用途说明"), max_length=2000)
    state = models.CharField(_("状态"), max_length=16, choices=ApplicationState.choices,
                             default=ApplicationState.DRAFT, db_index=True)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    approved_amount = _money_field(_("批准金额（元）"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("算力券申请")
        verbose_name_plural = _("算力券申请")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.organization} · {self.program.code} · {self.amount_requested}"

    @property
    def department_id(self) -> int:
        return self.program.department_id

    @property
    def is_editable(self) -> bool:
        return self.state in (ApplicationState.DRAFT, ApplicationState.RETURNED)


class Voucher(models.Model):
    """An issued compute voucher (算力券). `balance` mirrors its ledger account and is changed only by the
    ledger actions, under a row lock, so it can never go below zero."""

    number = models.CharField(_("券号"), max_length=40, unique=True)
    application = models.OneToOneField(VoucherApplication, on_delete=models.PROTECT, related_name="voucher")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="compute_vouchers",
                                     verbose_name=_("持券企业"))
    program = models.ForeignKey(SubsidyProgram, on_delete=models.PROTECT, related_name="vouchers",
                                verbose_name=_("补贴项目"))
    amount = _money_field(_("面额（元）"))
    balance = _money_field(_("余额（元）"))
    valid_from = models.DateField(_("生效日期"))
    expires_on = models.DateField(_("到期日期"))
    issued_at = models.DateTimeField(_("发放时间"), default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    lapsed_at = models.DateTimeField(_("余额收回时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("算力券")
        verbose_name_plural = _("算力券")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="compute_voucher_balance_not_negative"),
            models.CheckConstraint(condition=Q(balance__lte=models.F("amount")), name="compute_voucher_balance_le_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.number} (¥{self.balance})"

    def is_valid_on(self, day) -> bool:
        return self.lapsed_at is None and self.valid_from <= day <= self.expires_on

    @property
    def is_expired(self) -> bool:
        return self.lapsed_at is not None or timezone.localdate() > self.expires_on


# ---- jobs ---------------------------------------------------------------------------------------

class Job(models.Model):
    """A batch job an enterprise runs on a pool. The platform queues it; a background task submits it to
    the pool's backend and follows it; when it ends, its usage is billed with the chosen vouchers."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="compute_jobs",
                                     verbose_name=_("企业"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("作业名称"), max_length=100)
    script = models.TextField(_("作业脚本"))
    accelerators = models.PositiveIntegerField(_("加速卡数"))
    accelerator_models = models.JSONField(_("可接受的加速卡型号"), default=list)
    estimated_hours = models.DecimalField(_("预计时长（小时）"), max_digits=8, decimal_places=2)
    deadline = models.DateTimeField(_("截止时间"), null=True, blank=True)
    data_region = models.CharField(_("数据所在地区"), max_length=20, choices=Region.choices)
    data_may_leave = models.BooleanField(_("数据可出本地区"), default=True)
    data_grade = models.CharField(_("数据分级"), max_length=10, choices=DataGrade.choices, default=DataGrade.GENERAL)
    data_size_gb = models.DecimalField(_("数据量（GB）"), max_digits=12, decimal_places=2, default=ZERO)
    data_location = models.CharField(_("数据位置"), max_length=300, blank=True,
                                     help_text=_("数据在算力站点上的路径或存储地址，脚本中可用 $DATA_LOCATION 读取。"))
    workload = models.CharField(_("作业类型"), max_length=10, choices=Workload.choices, default=Workload.TRAINING)
    preference = models.CharField(_("调度偏好"), max_length=10, choices=Preference.choices,
                                  default=Preference.CHEAPEST)
    budget_cap = _money_field(_("预算上限（元）"), null=True, blank=True)
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("资源池"))
    vouchers = models.ManyToManyField(Voucher, blank=True, related_name="jobs", verbose_name=_("使用的算力券"))

    state = models.CharField(_("状态"), max_length=12, choices=JobState.choices, default=JobState.QUEUED,
                             db_index=True)
    backend = models.CharField(_("调度后端"), max_length=10, choices=BackendKind.choices)
    backend_job_id = models.CharField(_("后端作业号"), max_length=100, blank=True)
    # The job's name on the backend: unique per job and pool, so that a submission whose answer was lost
    # can be looked up before the job is submitted again (never twice).
    backend_name = models.CharField(_("后端作业名"), max_length=100, blank=True)
    # One entry per submission attempt: pool, backend, name, outcome (sending, submitted, adopted, refused,
    # unreachable, unavailable, unknown), what the backend said, when. The failover trail.
    pool_attempts = models.JSONField(_("各资源池的提交记录"), default=list, blank=True)
    attempts = models.PositiveIntegerField(_("提交尝试次数"), default=0)
    last_error = models.TextField(_("最近一次错误"), blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    quote = models.JSONField(_("报价"), default=dict)
    placement = models.JSONField(_("调度说明"), default=dict)

    created_at = models.DateTimeField(_("排队时间"), default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(_("提交到后端时间"), null=True, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    exit_code = models.IntegerField(_("退出码"), null=True, blank=True)
    reason = models.CharField(_("结束原因"), max_length=300, blank=True)
    elapsed_s = models.FloatField(_("运行时长（秒）"), null=True, blank=True)
    accelerator_seconds = models.FloatField(_("卡秒"), null=True, blank=True)
    usage_source = models.CharField(_("用量来源"), max_length=200, blank=True)
    log_tail = models.TextField(_("日志（末尾）"), blank=True)

    class Meta:
        verbose_name = _("算力作业")
        verbose_name_plural = _("算力作业")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "state"]), models.Index(fields=["pool", "state"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_JOB_STATES

    @property
    def on_backend(self) -> bool:
        return self.state in ON_BACKEND_STATES

    @property
    def queue_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.started_at - self.created_at).total_seconds())


class JobEvent(InsertOnlyModel):
    """What happened to a job, in order (queued, submitted, retried, running, finished, billed)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, choices=JobState.choices)
    message = models.CharField(max_length=500)

    class Meta:
        verbose_name = _("作业事件")
        verbose_name_plural = _("作业事件")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.job_id} {self.state}: {self.message}"


# ---- the ledger ---------------------------------------------------------------------------------

class Account(models.Model):
    """A ledger account. Its balance is the sum of its entries' debits minus credits, never stored."""

    kind = models.CharField(_("科目"), max_length=24, choices=AccountKind.choices)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="compute_accounts")
    program = models.OneToOneField(SubsidyProgram, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="budget_account")
    voucher = models.OneToOneField(Voucher, on_delete=models.PROTECT, null=True, blank=True, related_name="account")
    name = models.CharField(_("名称"), max_length=200)

    class Meta:
        verbose_name = _("账户")
        verbose_name_plural = _("账户")
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "organization"], condition=Q(program__isnull=True,
                                    voucher__isnull=True), name="compute_account_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class LedgerTransaction(InsertOnlyModel):
    """A balanced set of entries: the debits equal the credits (checked by `ledger.post`)."""

    kind = models.CharField(_("类型"), max_length=24, choices=TransactionKind.choices)
    memo = models.CharField(_("摘要"), max_length=300)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("记账凭证")
        verbose_name_plural = _("记账凭证")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}: {self.memo}"


class LedgerEntry(InsertOnlyModel):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    debit = _money_field(_("借方"), default=ZERO)
    credit = _money_field(_("贷方"), default=ZERO)

    class Meta:
        verbose_name = _("分录")
        verbose_name_plural = _("分录")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)),
                name="compute_entry_one_side_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: Dr {self.debit} Cr {self.credit}"


class Redemption(InsertOnlyModel):
    """The bill of one usage period of a job: list price, subsidy lines charged to vouchers, what the firm
    pays. The idempotency key makes a repeated billing return this row instead of charging twice."""

    idempotency_key = models.CharField(_("幂等键"), max_length=160, unique=True)
    job = models.ForeignKey(Job, on_delete=models.PROTECT, null=True, blank=True, related_name="redemptions")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="compute_redemptions")
    provider = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    period_start = models.DateTimeField(_("计费起"), null=True, blank=True)
    period_end = models.DateTimeField(_("计费止"), null=True, blank=True)
    accelerators = models.PositiveIntegerField(_("加速卡数"), default=0)
    elapsed_s = models.FloatField(_("运行时长（秒）"), default=0)
    billed_seconds = models.PositiveIntegerField(_("计费时长（秒）"), default=0)
    accelerator_hours = models.DecimalField(_("计费卡时"), max_digits=16, decimal_places=4, default=ZERO)
    unit_price = models.DecimalField(_("挂牌价（元/卡时）"), max_digits=10, decimal_places=2, default=ZERO)
    list_price = _money_field(_("挂牌价金额（元）"))
    subsidy = _money_field(_("算力券抵扣（元）"))
    payable = _money_field(_("企业应付（元）"))
    notes = models.JSONField(default=list)
    transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="redemption")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("算力账单")
        verbose_name_plural = _("算力账单")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(subsidy__gte=0) & Q(payable__gte=0), name="compute_bill_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key}: ¥{self.list_price}"

    @property
    def note_texts(self) -> list[str]:
        """The bill's notes in the reader's language (stored as codes; older bills hold plain text)."""
        from .explain import render

        return [render(n) for n in self.notes]


class RedemptionLine(InsertOnlyModel):
    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT, related_name="lines")
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemption_lines")
    program = models.ForeignKey(SubsidyProgram, on_delete=models.PROTECT, related_name="redemption_lines")
    rate = models.DecimalField(_("适用比例"), max_digits=5, decimal_places=4)
    amount = _money_field(_("抵扣金额（元）"))
    note = models.CharField(_("说明"), max_length=300, blank=True)
    reasons = models.JSONField(_("说明（代码与参数）"), default=list, blank=True)

    class Meta:
        verbose_name = _("补贴明细")
        verbose_name_plural = _("补贴明细")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.voucher_id}: {self.amount}"

    @property
    def note_text(self) -> str:
        """Why the line was cut, in the reader's language (from the stored codes when there are any)."""
        from .explain import render_all

        return render_all(self.reasons) if self.reasons else self.note
