from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("algorithms.catalog", _("算法模型推荐目录"), (15,), "algorithms:catalog_list",
         _("持有通过且有效测评证书的已备案模型可由企业申报，经备案审核部门同意后列入推荐目录，公开检索与导出；"
           "企业可撤回、部门可移出，证书撤销后条目自动暂停并退出目录。"))
