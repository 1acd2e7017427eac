from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("algorithms.filing", _("算法模型备案"), (15,), "algorithms:filing_list",
         _("企业提交算法备案，市相关部门审核并颁发备案编号；变更与注销同样经审核。"))
register("algorithms.explanation", _("面向公众的算法说明"), (15,), "algorithms:filing_list",
         _("每项备案以公众可理解的方式说明算法的基本原理与目的意图。"))
register("algorithms.disclosure", _("备案定期汇总公示"), (15,), "algorithms:batch_list",
         _("按期间冻结发布的公示批次，可下载 CSV、Excel、JSON；更正以新批次发布。"))
