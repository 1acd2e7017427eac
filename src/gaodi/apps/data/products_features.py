from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("data.products", _("数据产品与上海数据交易所挂牌状态"), (16, 17), "data:product_list",
         _("数据产品卡片（来源数据集、应用场景、合规评估、质量报告、计价方式），记录在上海数据交易所的挂牌状态；"
           "交易在交易所进行，本平台不交易。"))
