"""The data demo: datasets, open lists and applications; a published data product with its quality report
and listing application; a labeling project with imported tasks, two annotators' labels and a decision, all
made through the actions, so the public and staff pages of a fresh `gaodi demo` show real numbers."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score

EXPECTED = {"datasets": 4, "applications": 2, "products": 2, "published_products": 1, "labeling_projects": 1,
            "labeling_tasks": 11, "labeling_annotators": 2, "labeling_annotations": 16, "labeling_decisions": 1}


@pytest.fixture
def demo(world):
    from gaodi.apps.data.demo import load_data_demo

    return load_data_demo(random.Random(1))


def test_demo_loader_makes_datasets_lists_and_applications(demo):
    from gaodi.apps.data.models import AccessApplication, Dataset, OpenListVersion

    assert demo == EXPECTED
    assert Dataset.objects.count() == 4 and OpenListVersion.objects.count() == 4
    assert set(AccessApplication.objects.values_list("state", flat=True)) == {"approved", "rejected"}


def test_demo_product_is_public_with_its_quality_report_and_listing_application(client, world, demo):
    from gaodi.apps.core.models import WorkflowHistory
    from gaodi.apps.data.models import DataProduct
    from gaodi.apps.data.products_forms import publish_errors

    product = DataProduct.objects.get(state="published")
    weather = product.datasets.get()
    assert weather.open_type == "unconditional" and product.publisher == world.cyber
    version = weather.resources.get().latest
    assert product.quality_version == version and version.quality_state == "done" and version.quality_score > 0
    assert (product.price_model, product.price_unit) == ("subscription", "per_month") and product.price_amount > 0
    assert product.scenario and product.compliance_assessment
    assert product.listing_status == "submitted" and product.listing_submitted_on <= timezone.localdate()
    assert WorkflowHistory.objects.filter(object_id=product.pk, transition="listing_submit").count() == 1

    draft = DataProduct.objects.get(state="draft")
    assert set(publish_errors(draft)) == {"compliance_assessment", "quality_version"}

    public = client.get("/data/products/").content.decode()  # anonymous
    assert product.title in public and draft.title not in public
    page = client.get(f"/data/products/{product.pk}/").content.decode()
    assert "已提交挂牌申请" in page and f"{version.quality_score:.3f}"[:4] in page
    assert client.get(f"/data/products/{draft.pk}/").status_code == 404


def test_demo_labeling_project_has_assigned_tasks_annotations_and_a_decision(client, world, demo):
    from gaodi.apps.data.labeling_models import Annotation, Assignment, LabelingProject, ReviewDecision

    project = LabelingProject.objects.get()
    assert project.organization == world.cyber and project.kind == "text_classification" and project.overlap == 2
    assert [(label["value"], label["name"], label["key"]) for label in project.labels] == [
        ("jam", "拥堵", "1"), ("accident", "事故", "2"), ("construction", "施工", "3"), ("other", "其他", "4")]
    annotators = set(project.annotators.values_list("user__username", flat=True))
    assert annotators == {"paul", "rita"}  # the world's department has only these two members
    tasks = list(project.tasks.order_by("ordinal"))
    assert len(tasks) == 11 and all(t.source_id.startswith("SJ") and t.text for t in tasks)
    assert all(Assignment.objects.filter(task=t).count() == 2 for t in tasks)
    per_person = {u: Annotation.objects.filter(task__project=project, annotator__username=u).count() for u in annotators}
    assert sorted(per_person.values()) == [7, 9]
    states = [t.state for t in tasks]
    assert states.count("decided") == 1 and states.count("complete") == 6 and states.count("open") == 4
    assert project.tasks.filter(disagreement=True).count() == 2
    decision = ReviewDecision.objects.get()
    assert decision.decided_by == world.rita and decision.accepted is not None and decision.task.disagreement

    # The agreement page shows the numbers, to the reviewer and to the manager; outsiders get 404.
    common = [t for t in tasks if t.annotation_count == 2]
    values = {(a.task_id, a.annotator.username): a.value[0]
              for a in Annotation.objects.filter(task__project=project).select_related("annotator")}
    kappa = cohen_kappa_score([values[(t.pk, "paul")] for t in common], [values[(t.pk, "rita")] for t in common])
    assert 0 < kappa < 1
    for user in (world.rita, world.paul):
        client.force_login(user)
        page = client.get(f"/data/labeling/{project.pk}/agreement/").content.decode()
        assert f"{kappa:.3f}" in page and "未定义" not in page
        data = client.get(f"/data/labeling/{project.pk}/agreement/?format=json").json()
        assert data["pairs"][0]["value"] == pytest.approx(kappa) and data["pairs"][0]["tasks"] == 7
        assert data["fleiss"]["value"] is not None and data["krippendorff"]["value"] is not None
    # The review queue (reviewers only) lists the open disagreement first, the decided task last.
    assert client.get(f"/data/labeling/{project.pk}/review/").status_code == 404  # paul manages, not reviews
    client.force_login(world.rita)
    review = client.get(f"/data/labeling/{project.pk}/review/").content.decode()
    undecided = project.tasks.get(disagreement=True, state="complete")
    rows = review.split("<tbody>")[1].split("</tr>")
    assert f"#{undecided.ordinal}<" in rows[0] and "有分歧" in rows[0]
    assert f"#{decision.task.ordinal}<" in [r for r in rows if "<th" in r][-1]
    client.force_login(world.nobody)
    assert client.get(f"/data/labeling/{project.pk}/agreement/").status_code == 404
