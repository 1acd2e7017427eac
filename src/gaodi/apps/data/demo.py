"""Demo data for the data resource library, made through the actions (like a real user would).

Datasets with open-list entries and access applications (Art. 17); a published data product built from
the unconditionally open weather data, with its quality report and its listing application at the
Shanghai Data Exchange recorded, plus a draft (Art. 16 para. 1, Art. 17); and a text-classification
labeling project of the department with tasks imported from a small dataset, two annotators' labels
(mostly agreeing, not always) and a reviewer's decision (Art. 16 para. 2).
"""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.models import Organization, User

from . import actions, labeling_actions, products_actions
from .forms import ApplicationForm, DatasetForm, OpenListEntryForm, ResourceForm
from .labeling_forms import AnnotationForm, AnnotatorForm, DecisionForm, ImportForm, ProjectForm
from .labeling_models import LabelingTask
from .labeling_policies import usable_versions
from .models import Dataset, QualityState
from .products_forms import ListingForm, ProductForm

DATASETS = [
    ("城市交通流量数据", "Urban traffic flow", "transport", "conditional"),
    ("公共气象观测数据", "Public weather observations", "general", "unconditional"),
    ("医学影像标注数据", "Annotated medical images", "health", "not_open"),
]


def _csv(rng: random.Random, rows: int = 50) -> bytes:
    lines = ["编号,区域,日期,数值"]
    for i in range(rows):
        lines.append(f"{i + 1},{rng.choice(['徐汇', '浦东', '闵行'])},2024-05-{rng.randint(1, 28):02d},"
                     f"{rng.uniform(0, 100):.2f}")
    return ("\n".join(lines) + "\n").encode()


def load_data_demo(rng: random.Random) -> dict:
    """Needs a department with a publisher and a reviewer, and enterprises with members (core demo).
    Returns counts of what was made."""
    department = Organization.objects.filter(kind=OrgKind.DEPARTMENT, memberships__role=Role.PUBLISHER).first()
    if department is None:
        return {"datasets": 0}
    publisher = User.objects.filter(memberships__organization=department, memberships__role=Role.PUBLISHER).first()
    reviewer = User.objects.filter(memberships__organization=department,
                                   memberships__role__in=[Role.REVIEWER, Role.ADMIN]).first()
    made = []
    for title, title_en, theme, open_type in DATASETS:
        dataset = actions.create_dataset(publisher, department, DatasetForm(data={
            "title": title, "title_en": title_en, "description": f"{title}（演示数据，随机生成）。", "theme": theme,
            "licence": "CC BY 4.0", "update_frequency": "monthly", "spatial": "上海市", "open_type": open_type,
            "security_level": "general", "conditions": "仅限研发与科研使用，不得再分发。"}))
        actions.add_resource(publisher, dataset, ResourceForm(
            data={"name": "数据表", "kind": "file", "note": "首版"},
            files={"file": SimpleUploadedFile("data.csv", _csv(rng))}))
        made.append(dataset)
        actions.set_open_list_entry(publisher, department, OpenListEntryForm(data={
            "name": title, "dataset": dataset.pk, "scope": "全市", "open_type": open_type,
            "conditions": "需签署数据使用协议" if open_type == "conditional" else "",
            "update_frequency": "monthly"}, department=department))
    conditional = made[0]
    applicants = list(User.objects.filter(memberships__role=Role.MEMBER,
                                          memberships__organization__kind=OrgKind.ENTERPRISE).distinct()[:3])
    applications = 0
    for i, user in enumerate(applicants):
        org = Organization.objects.filter(memberships__user=user, kind=OrgKind.ENTERPRISE).first()
        form = ApplicationForm(data={"organization": org.pk, "purpose": "训练交通预测模型，用于信号灯优化研究。",
                                     "scenario": "智慧交通", "security_measures": "专网存储，最小权限，访问留痕。",
                                     "term_days": rng.choice([30, 90, 180])},
                               enterprises=Organization.objects.filter(pk=org.pk))
        application = actions.apply_for_access(user, conditional, form)
        applications += 1
        if reviewer and i == 0:
            actions.decide_application(reviewer, application, "approve", "同意")
        elif reviewer and i == 1:
            actions.decide_application(reviewer, application, "reject", "使用目的与开放条件不符")
    products = _products(rng, publisher, department, weather=made[1], traffic=conditional)
    labeling = _labeling(rng, publisher, reviewer, department)
    return {"datasets": len(made) + 1, "applications": applications, **products,
            **{f"labeling_{k}": v for k, v in labeling.items()}}


# ---- data products (Art. 16 para. 1, Art. 17) ---------------------------------------------------

def _products(rng: random.Random, publisher: User, department: Organization, weather: Dataset,
              traffic: Dataset) -> dict:
    """A published product from the unconditionally open weather data (its quality report run now, as the
    worker would, so the card shows a score) with its listing application recorded; a draft beside it."""
    from .tasks import run_quality_report

    version = weather.resources.get().latest
    if run_quality_report.call(version.pk) != QualityState.DONE:  # the worker's task, run inline (tiny file)
        version.refresh_from_db()
        raise RuntimeError(f"demo quality report failed: {version.quality_error}")
    price = rng.choice([600, 800, 1200])
    product = products_actions.create_product(publisher, department, ProductForm(data={
        "title": "上海分区气象观测数据服务", "title_en": "Shanghai district weather observation data service",
        "summary": "按区汇总的逐日气象观测数值，按月更新，可直接用于城市运行与出行预测模型的训练和评测。",
        "datasets": [weather.pk], "quality_version": version.pk,
        "scenario": "城市运行气象风险预警；交通出行时间预测与信号配时模型的训练和评测。",
        "compliance_assessment": "数据来源为本部门公开的气象观测汇总数据，属无条件开放数据；不含个人信息；"
                                 "经敏感数据扫描未发现身份证号、手机号等字段；按一般数据管理，供方已落实访问留痕。",
        "price_model": "subscription", "price_amount": str(price), "price_unit": "per_month"},
        publisher=department))
    product = products_actions.publish_product(publisher, product)
    submitted_on = timezone.localdate() - timedelta(days=rng.randint(3, 20))
    products_actions.record_listing(publisher, product, "listing_submit",
                                    ListingForm(data={"on": submitted_on.isoformat()}))
    # A card still being written: no quality version, no compliance assessment yet (drafts may be half-done).
    products_actions.create_product(publisher, department, ProductForm(data={
        "title": "城市交通流量指数产品", "title_en": "Urban traffic flow index",
        "summary": "基于城市交通流量数据计算的分区域、分时段通行指数（编制中）。", "datasets": [traffic.pk],
        "scenario": "物流路径规划、商圈客流分析。", "price_model": "per_call", "price_amount": "0.5",
        "price_unit": "per_call"}, publisher=department))
    return {"products": 2, "published_products": 1}


# ---- labeling (Art. 16 para. 2) -----------------------------------------------------------------

LABELS = "jam | 拥堵 | 1\naccident | 事故 | 2\nconstruction | 施工 | 3\nother | 其他 | 4"
_ROADS = ("延安高架路", "中环路", "南北高架路", "内环高架路", "沪闵路", "世纪大道", "龙阳路", "漕溪北路", "杨高路")
_PLACES = ("徐家汇", "陆家嘴", "莘庄", "虹桥枢纽", "五角场", "张江", "人民广场", "七宝", "中山公园")
# Clear reports of each type (the label the annotators agree on) ...
_CLEAR = {
    "jam": ("{road}{place}段车流缓慢，排队约{n}米，通行时间明显增加。",
            "晚高峰{road}往{place}方向车多行驶缓慢，走走停停。",
            "{place}地区各路口车辆排队较长，{road}匝道口拥堵严重。"),
    "accident": ("{road}近{place}处两车追尾，占用{lane}条车道，交警已到场处理。",
                 "{place}路口一辆电动自行车与小客车发生碰擦，有人受轻伤。"),
    "construction": ("{road}{place}段夜间养护施工，封闭{lane}条车道，预计持续{d}天。",
                     "{place}附近管线开挖施工，{road}辅路临时改道。"),
    "other": ("{place}路口信号灯故障，红绿灯不亮，请求尽快维修。",
              "{road}{place}段路面有散落货物，影响车辆通行。"),
}
# ... and reports where the event causes a jam: the type is the cause, but annotators may choose 拥堵.
_AMBIGUOUS = {
    "accident": "{road}{place}段发生三车事故，后方车辆排队超过{n}米。",
    "construction": "{place}附近道路施工占道，{road}方向车辆排起长队。",
}
_FIRST_ANNOTATES, _SECOND_ANNOTATES = 9, 7  # of the 11 tasks: the first annotator is further along


def _reports(rng: random.Random) -> list[tuple[str, str, bool]]:
    """(text, intended type, ambiguous): nine clear reports in random order with the two ambiguous ones
    at places 2 and 5, so both annotators meet them early in their queues."""
    def fill(template: str) -> str:
        return template.format(road=rng.choice(_ROADS), place=rng.choice(_PLACES), n=rng.choice([300, 500, 800, 1200]),
                               lane=rng.choice([1, 2]), d=rng.randint(3, 15))

    clear = [(fill(t), kind, False) for kind in ("jam", "accident", "construction", "other") for t in _CLEAR[kind]]
    rng.shuffle(clear)
    ambiguous = [(fill(t), kind, True) for kind, t in _AMBIGUOUS.items()]
    return clear[:1] + ambiguous[:1] + clear[1:3] + ambiguous[1:] + clear[3:]


def _reports_csv(reports: list[tuple[str, str, bool]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["编号", "上报时间", "事件描述"])
    for i, (text, _kind, _ambiguous) in enumerate(reports, start=1):
        writer.writerow([f"SJ{i:04d}", f"2024-05-{i + 10:02d} 08:{(7 * i) % 60:02d}", text])
    return out.getvalue().encode()


def _labeling(rng: random.Random, publisher: User, reviewer: User | None, department: Organization) -> dict:
    """The department's project: tasks imported from a small dataset of its own, two annotators (members of
    the department: the labeling rules allow only members), their labels, and one review decision."""
    members = list(User.objects.filter(memberships__organization=department, is_active=True).distinct()
                   .order_by("username"))
    # Annotate with members who are not the deciding reviewer where the department has enough of them.
    others = [u for u in members if u != reviewer]
    annotators = others[:2] if len(others) >= 2 else members[:2]
    reports = _reports(rng)
    dataset = actions.create_dataset(publisher, department, DatasetForm(data={
        "title": "交通事件上报文本", "title_en": "Traffic incident reports (text)",
        "description": "市民和巡查人员上报的交通事件简要描述（演示数据，随机生成），用于训练交通事件分类模型。",
        "theme": "transport", "licence": "CC BY 4.0", "update_frequency": "monthly", "spatial": "上海市",
        "open_type": "conditional", "security_level": "general",
        "conditions": "仅限交通事件分类模型的研发与标注使用，不得再分发。"}))
    resource = actions.add_resource(publisher, dataset, ResourceForm(
        data={"name": "事件上报", "kind": "file", "note": "首版"},
        files={"file": SimpleUploadedFile("reports.csv", _reports_csv(reports))}))
    actions.set_open_list_entry(publisher, department, OpenListEntryForm(data={
        "name": dataset.title, "dataset": dataset.pk, "scope": "全市", "open_type": "conditional",
        "conditions": "需签署数据使用协议，仅用于模型研发与标注", "update_frequency": "monthly"}, department=department))
    project = labeling_actions.create_project(publisher, department, ProjectForm(data={
        "name": "交通事件类型标注", "kind": "text_classification", "labels_text": LABELS,
        "overlap": len(annotators),
        "description": "为交通事件分类模型标注上报文本的事件类型（条例第十六条：数据标注工具与标准）。",
        "instructions": "按事件本身的类型标注：事故或施工引起的拥堵，标为“事故”或“施工”；"
                        "只描述车多、排队、缓行的，标为“拥堵”；信号灯故障、路面散落物等标为“其他”。"
                        "快捷键 1-4 选择类型，回车提交并进入下一条。"}))
    for person in annotators:
        labeling_actions.add_annotator(publisher, project, AnnotatorForm(data={"username": person.username}))
    batch = labeling_actions.start_import(publisher, project, ImportForm(
        data={"version": resource.latest.pk, "text_column": "事件描述", "id_column": "编号"},
        project=project, versions=usable_versions(publisher, project)))
    if batch.state != "done":  # a small version is imported at once; its tasks are assigned with it
        raise RuntimeError(f"demo labeling import failed: {batch.error}")
    tasks = list(LabelingTask.objects.filter(project=project).order_by("ordinal"))
    by_id = {f"SJ{i:04d}": report for i, report in enumerate(reports, start=1)}
    annotations = 0
    saved: dict[tuple[int, int], int] = {}
    for position, person in enumerate(annotators):
        for task in tasks[:_FIRST_ANNOTATES if position == 0 else _SECOND_ANNOTATES]:
            _text, label, ambiguous = by_id[task.source_id]
            if position == 1 and ambiguous:
                label = "jam"  # the second annotator reads a report of a jam's cause as a jam
            form = AnnotationForm(data={"labels": [label]}, task=task)
            saved[(task.pk, person.pk)] = labeling_actions.save_annotation(person, task, form).pk
            annotations += 1
    decisions = 0
    disputed = LabelingTask.objects.filter(project=project, disagreement=True).order_by("ordinal").first()
    if reviewer is not None and disputed is not None:
        labeling_actions.decide_task(reviewer, disputed, DecisionForm(data={
            "accept": saved[(disputed.pk, annotators[0].pk)],
            "note": "事件起因明确，按事件本身的类型归类，拥堵是其后果。"}, task=disputed))
        decisions = 1
    return {"projects": 1, "tasks": len(tasks), "annotators": len(annotators), "annotations": annotations,
            "decisions": decisions}
