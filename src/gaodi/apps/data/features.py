from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("data.catalog", _("人工智能数据资源目录与质量报告"), (16,), "data:dataset_list",
         _("数据集目录（元数据、资源与版本），每个文件自动进行六维质量检测和敏感数据扫描，支持搜索与导出。"))
register("data.statistics", _("重点领域数据资源统计"), (16,), "data:statistics",
         _("按领域、发布机构和安全级别统计数据资源，附图表和数据表。"))
register("data.open_list", _("公共数据开放清单与分类分级开放"), (17,), "data:open_lists",
         _("各部门动态维护开放清单，每次变更生成新版本，历史公开；数据集按无条件开放、有条件开放、不予开放分类分级。"))
register("data.access", _("有条件开放数据的申请、授权与访问日志"), (17,), "data:my_access",
         _("企业和个人开发者申请有条件开放数据，发布机构按工作日期限审核；授权到期自动失效，每次访问留痕。"))
register("data.fairness", _("数据公平使用报告"), (17,), "data:fairness",
         _("公开比较中小企业、个人开发者和大型企业的申请结果与等待时间。"))
