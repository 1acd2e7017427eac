"""Demo data for the data resource library, made through the actions (like a real user would)."""

from __future__ import annotations

import random

from django.core.files.uploadedfile import SimpleUploadedFile

from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.models import Organization, User

from . import actions
from .forms import ApplicationForm, DatasetForm, OpenListEntryForm, ResourceForm

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
    return {"datasets": len(made), "applications": applications}
