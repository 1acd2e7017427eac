from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.features import register

register("compute.capacity", _("公共算力资源与价格公示"), (12, 13), "compute:public",
         _("汇聚各算力提供方的站点和资源池，公示实时可用算力、挂牌价和所在国家枢纽。"))
register("compute.placement", _("算力调度与跨区域调度"), (12, 13), "compute:job_create",
         _("按补贴后价格、数据传输、时延和碳排放为作业选择资源池，说明选择理由并给出次优方案；"
           "重要数据不出本地区。"))
register("compute.vouchers", _("算力券申请、审核与核销"), (12,), "compute:program_list",
         _("企业申请算力券，市经济信息化部门在项目预算内审核发放；作业按用量结算，补贴记入复式账本。"))
register("compute.dashboard", _("算力统计与补贴预算看板"), (12, 13), "compute:dashboard",
         _("按枢纽和资源池统计利用率、中小企业占比、排队时间和补贴预算执行情况。"))
