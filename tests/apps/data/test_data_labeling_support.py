"""Shared set-up for the labeling tests (no tests here): an annotation institution with a manager, a
reviewer and annotators, datasets with files, projects made through the actions. Import what you need:

    from test_data_labeling_support import build_labeling_world, make_project, import_text
"""

from __future__ import annotations

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

from gaodi.apps.core.models import Membership, Organization, User
from gaodi.apps.data import actions as data_actions
from gaodi.apps.data import labeling_actions as actions
from gaodi.apps.data.forms import DatasetForm, ResourceForm
from gaodi.apps.data.labeling_forms import (
    AnnotationForm,
    AnnotatorForm,
    ImageArchiveForm,
    ImportForm,
    ProjectForm,
)
from gaodi.apps.data.labeling_policies import usable_versions

PASSWORD = "correct-horse-battery"
SENTIMENT = "positive | 正面 | 1\nnegative | 负面 | 2\nneutral | 中性 | 3"
ENTITIES = "PER | 人名 | 1\nLOC | 地名 | 2\nORG | 机构名 | 3"
TEXTS = ["这家店的服务很好", "物流太慢了", "价格一般", "非常满意，会再来", "包装破损，很失望", "还行吧"]


def csv_bytes(rows: list[str], encoding: str = "utf-8", header: str = "编号,评论") -> bytes:
    lines = [header] + [f"{i + 1},{text}" for i, text in enumerate(rows)]
    return ("\n".join(lines) + "\n").encode(encoding)


class LabelingWorld:
    pass


def build_labeling_world(world) -> LabelingWorld:
    """world plus 上海数标 (a data provider) with mona (admin: manager and reviewer), rex (reviewer), the
    annotators anna, ben, cara, dan (members); an outside institution with its own reviewer, oscar."""
    w = LabelingWorld()
    w.world = world
    w.org = Organization.objects.create(code="L0001", name="上海数标标注服务有限公司", kind="data_provider")
    w.other = Organization.objects.create(code="L0002", name="另一家标注机构", kind="data_provider")

    def member(username, org, role):
        user = User.objects.create_user(username=username, password=PASSWORD)
        Membership.objects.create(user=user, organization=org, role=role)
        return user

    w.mona = member("mona", w.org, "admin")
    w.rex = member("rex", w.org, "reviewer")
    w.anna = member("anna", w.org, "member")
    w.ben = member("ben", w.org, "member")
    w.cara = member("cara", w.org, "member")
    w.dan = member("dan", w.org, "member")
    w.oscar = member("oscar", w.other, "reviewer")
    return w


def make_dataset(world, open_type="unconditional", publisher=None, user=None, title="电商评论数据"):
    data = {"title": title, "description": "用于情感分析的评论。", "theme": "general", "licence": "CC BY 4.0",
            "update_frequency": "monthly", "spatial": "上海市", "open_type": open_type, "security_level": "general",
            "conditions": "仅限科研使用。"}
    return data_actions.create_dataset(user or world.paul, publisher or world.cyber, DatasetForm(data=data))


def add_file(user, dataset, content: bytes, name: str = "reviews.csv"):
    form = ResourceForm(data={"name": "评论表", "kind": "file"}, files={"file": SimpleUploadedFile(name, content)})
    resource = data_actions.add_resource(user, dataset, form)
    return resource.latest


def stored_as(version, content: bytes):
    """Replace a stored version's bytes (a file stored before today's upload checks, or damaged since)."""
    with open(version.file.path, "wb") as handle:
        handle.write(content)
    type(version).objects.filter(pk=version.pk).update(size=len(content))
    version.refresh_from_db()
    return version


def add_images(user, resource, content: bytes, name: str = "images.zip"):
    form = ImageArchiveForm(data={}, files={"file": SimpleUploadedFile(name, content)})
    return actions.add_image_archive(user, resource, form)


def make_project(lw, kind="text_classification", labels=SENTIMENT, overlap=3, multi=False, name="评论情感标注",
                 annotators=("anna", "ben", "cara")):
    data = {"name": name, "kind": kind, "labels_text": labels, "overlap": overlap, "description": "测试项目"}
    if multi:
        data["multi_label"] = "on"
    project = actions.create_project(lw.mona, lw.org, ProjectForm(data=data))
    for username in annotators:
        actions.add_annotator(lw.mona, project, AnnotatorForm(data={"username": username}))
    return project


def import_text(lw, project, version, column="评论", id_column="编号", skip_bad_rows=False):
    data = {"version": version.pk, "text_column": column, "id_column": id_column}
    if skip_bad_rows:
        data["skip_bad_rows"] = "on"
    form = ImportForm(data=data, project=project, versions=usable_versions(lw.mona, project))
    return actions.start_import(lw.mona, project, form)


def annotate(user, task, labels=None, spans=None):
    data = {"labels": labels or []}
    if spans is not None:
        import json

        data["spans"] = json.dumps(spans)
    return actions.save_annotation(user, task, AnnotationForm(data=data, task=task))


def png(width=4, height=3, color=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg(width=4, height=3) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def zip_bytes(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()
