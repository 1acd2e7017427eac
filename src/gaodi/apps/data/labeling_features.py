from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("data.labeling", _("数据标注专业工具"), (16,), "data:labeling_home",
         _("文本分类、命名实体和图像分类标注项目：从数据集版本导入任务，多人交叉标注，审核裁定，"
           "按项目和标注员计算一致性（Cohen、Fleiss kappa，Krippendorff alpha），导出 JSON Lines、CSV 和 CoNLL；"
           "全键盘操作。"))
