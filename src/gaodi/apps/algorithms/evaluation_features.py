from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("algorithms.evaluation", _("算法模型测试评估"), (15, 46, 66, 67), "algorithms:evaluation_list",
         _("企业委托经认可的检测评估机构评估已备案的模型：性能、群体公平、差别待遇、稳健性与解释，并出具报告。"))
register("algorithms.certificate", _("可验证的测评证书"), (10, 15), "",
         _("测评证书由平台 Ed25519 密钥签名，公众可在线验证，合作地区可用公开的公钥离线验证（长三角互认）。"))
