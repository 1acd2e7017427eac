"""Fixed vocabularies of the public compute platform (Art. 12-13)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gaodi.apps.core.choices import DataSecurityLevel


class Hub(models.TextChoices):
    """The eight national computing hubs of "East Data, West Compute" (东数西算), as in the engine's catalog."""

    BEIJING_TIANJIN_HEBEI = "beijing_tianjin_hebei", _("京津冀枢纽")
    YANGTZE_RIVER_DELTA = "yangtze_river_delta", _("长三角枢纽")
    GREATER_BAY_AREA = "greater_bay_area", _("粤港澳大湾区枢纽")
    CHENGDU_CHONGQING = "chengdu_chongqing", _("成渝枢纽")
    INNER_MONGOLIA = "inner_mongolia", _("内蒙古枢纽")
    GUIZHOU = "guizhou", _("贵州枢纽")
    GANSU = "gansu", _("甘肃枢纽")
    NINGXIA = "ningxia", _("宁夏枢纽")


class Region(models.TextChoices):
    """Province-level regions, where a data centre stands and where a firm's data lies."""

    BEIJING = "beijing", _("北京")
    TIANJIN = "tianjin", _("天津")
    HEBEI = "hebei", _("河北")
    SHANXI = "shanxi", _("山西")
    INNER_MONGOLIA = "inner_mongolia", _("内蒙古")
    LIAONING = "liaoning", _("辽宁")
    JILIN = "jilin", _("吉林")
    HEILONGJIANG = "heilongjiang", _("黑龙江")
    SHANGHAI = "shanghai", _("上海")
    JIANGSU = "jiangsu", _("江苏")
    ZHEJIANG = "zhejiang", _("浙江")
    ANHUI = "anhui", _("安徽")
    FUJIAN = "fujian", _("福建")
    JIANGXI = "jiangxi", _("江西")
    SHANDONG = "shandong", _("山东")
    HENAN = "henan", _("河南")
    HUBEI = "hubei", _("湖北")
    HUNAN = "hunan", _("湖南")
    GUANGDONG = "guangdong", _("广东")
    GUANGXI = "guangxi", _("广西")
    HAINAN = "hainan", _("海南")
    CHONGQING = "chongqing", _("重庆")
    SICHUAN = "sichuan", _("四川")
    GUIZHOU = "guizhou", _("贵州")
    YUNNAN = "yunnan", _("云南")
    TIBET = "tibet", _("西藏")
    SHAANXI = "shaanxi", _("陕西")
    GANSU = "gansu", _("甘肃")
    QINGHAI = "qinghai", _("青海")
    NINGXIA = "ningxia", _("宁夏")
    XINJIANG = "xinjiang", _("新疆")


class BackendKind(models.TextChoices):
    LOCAL = "local", _("本地进程")
    SLURM = "slurm", _("Slurm 集群")
    RAY = "ray", _("Ray 集群")


class Level(models.TextChoices):
    CITY = "city", _("市级")
    DISTRICT = "district", _("区级")


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    RETURNED = "returned", pgettext_lazy("voucher application state", "退回修改")
    APPROVED = "approved", pgettext_lazy("voucher application state", "已批准")
    REJECTED = "rejected", pgettext_lazy("voucher application state", "未予批准")
    WITHDRAWN = "withdrawn", _("已撤回")


class JobState(models.TextChoices):
    QUEUED = "queued", _("排队中")  # accepted by the platform, not yet on a backend (or waiting for one to answer)
    PENDING = "pending", _("已提交，等待资源")  # on the backend, waiting to start
    RUNNING = "running", _("运行中")
    COMPLETED = "completed", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


TERMINAL_JOB_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)
ON_BACKEND_STATES = (JobState.PENDING, JobState.RUNNING)


DataGrade = DataSecurityLevel  # one vocabulary with the data catalog's security level


class Workload(models.TextChoices):
    TRAINING = "training", _("训练（对时延不敏感）")
    INFERENCE = "inference", _("推理（对时延敏感）")


class Preference(models.TextChoices):
    CHEAPEST = "cheapest", _("最省钱")
    SOONEST = "soonest", _("最快完成")
    GREENEST = "greenest", _("最绿色")


class AccountKind(models.TextChoices):
    FUNDING = "funding", _("财政资金来源")
    PROGRAM_BUDGET = "program_budget", _("补贴项目预算")
    VOUCHER = "voucher", _("算力券余额")
    ENTERPRISE_PAYABLE = "enterprise_payable", _("企业应付")
    PROVIDER_RECEIVABLE = "provider_receivable", _("算力提供方应收")


class TransactionKind(models.TextChoices):
    PROGRAM_FUNDING = "program_funding", _("项目预算拨付")
    PROGRAM_ADJUSTMENT = "program_adjustment", _("项目预算调整")
    VOUCHER_ISSUE = "voucher_issue", _("发放算力券")
    REDEMPTION = "redemption", _("作业结算（核销算力券）")
    VOUCHER_LAPSE = "voucher_lapse", _("算力券到期余额收回")
