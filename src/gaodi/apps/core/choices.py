"""Fixed vocabularies of the regulation: organization kinds, departments, districts, roles."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("企业")
    TESTING_INSTITUTION = "testing", _("第三方检测评估机构")
    COMPUTE_PROVIDER = "compute_provider", _("算力提供方")
    DATA_PROVIDER = "data_provider", _("数据提供方")
    DEPARTMENT = "department", _("市政府部门")
    DISTRICT = "district", _("区人民政府")
    ASSOCIATION = "association", _("行业协会")
    COMMITTEE = "committee", _("专家委员会")


class DepartmentDuty(models.TextChoices):
    """City departments named in Art. 6."""

    ECONOMY = "economy", _("市经济信息化部门")
    DEVELOPMENT = "development", _("市发展改革部门")
    SCIENCE = "science", _("市科技部门")
    CYBERSPACE = "cyberspace", _("市网信部门")
    MARKET = "market", _("市市场监管部门")
    STATISTICS = "statistics", _("市统计部门")


class District(models.TextChoices):
    """Shanghai's 16 districts, keyed by their administrative division code (GB/T 2260)."""

    HUANGPU = "310101", _("黄浦区")
    XUHUI = "310104", _("徐汇区")
    CHANGNING = "310105", _("长宁区")
    JINGAN = "310106", _("静安区")
    PUTUO = "310107", _("普陀区")
    HONGKOU = "310109", _("虹口区")
    YANGPU = "310110", _("杨浦区")
    MINHANG = "310112", _("闵行区")
    BAOSHAN = "310113", _("宝山区")
    JIADING = "310114", _("嘉定区")
    PUDONG = "310115", _("浦东新区")
    JINSHAN = "310116", _("金山区")
    SONGJIANG = "310117", _("松江区")
    QINGPU = "310118", _("青浦区")
    FENGXIAN = "310120", _("奉贤区")
    CHONGMING = "310151", _("崇明区")


class Industry(models.TextChoices):
    """Industries of the SME classification rules (see gaodi.engines.sme)."""

    SOFTWARE_IT = "software_it", _("软件和信息技术服务业")
    INFORMATION_TRANSMISSION = "information_transmission", _("信息传输业")
    INDUSTRY = "industry", _("工业")
    WHOLESALE = "wholesale", _("批发业")
    RETAIL = "retail", _("零售业")
    TRANSPORT = "transport", _("交通运输业")
    LEASING_BUSINESS = "leasing_business", _("租赁和商务服务业")
    CONSTRUCTION = "construction", _("建筑业")
    OTHER = "other", _("其他未列明行业（含科学研究和技术服务业）")


class SizeClass(models.TextChoices):
    LARGE = "large", _("大型")
    MEDIUM = "medium", _("中型")
    SMALL = "small", _("小型")
    MICRO = "micro", _("微型")


class DataSecurityLevel(models.TextChoices):
    """Data grades of the Data Security Law, shared by data resources and compute placement."""

    GENERAL = "general", _("一般数据")
    IMPORTANT = "important", _("重要数据")
    CORE = "core", _("核心数据")


class Role(models.TextChoices):
    MEMBER = "member", _("成员")  # drafts and submits on behalf of its organization
    ADMIN = "admin", _("机构管理员")  # manages the organization's members
    REVIEWER = "reviewer", _("审核员")  # reviews what its department is responsible for
    PUBLISHER = "publisher", _("发布员")  # publishes disclosure batches and lists
