"""Labeling in real Chromium with the keyboard only (Art. 16 professional labeling tools): three annotators
label a small project with number keys and Enter, an entity annotator marks spans with Shift+arrows, the
agreement page shows the kappa and alpha that statsmodels, scikit-learn and krippendorff compute, and
axe-core finds no serious or critical WCAG violation on the labeling pages, normal and elder mode."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from playwright.sync_api import expect
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from tests.apps.data.test_data_labeling_support import (
    ENTITIES,
    PASSWORD,
    add_file,
    build_labeling_world,
    csv_bytes,
    import_text,
    make_dataset,
    make_project,
)
from tests.browser.conftest import axe_violations, blocking

pytestmark = pytest.mark.browser

TEXTS = ["快递第二天就到了", "客服一直不回消息", "东西和描述一致", "价格还可以"]
KEYS = {"1": "positive", "2": "negative", "3": "neutral"}
PLAN = {"anna": "1123", "ben": "1223", "cara": "1121"}  # the key each annotator presses on tasks 1-4


@pytest.fixture
def lworld(bworld):
    lw = build_labeling_world(bworld)
    project = make_project(lw, overlap=3, annotators=("anna", "ben", "cara"), name="快递评论情感")
    import_text(lw, project, add_file(bworld.paul, make_dataset(bworld), csv_bytes(TEXTS)))
    lw.project = project
    return lw


def keyboard_login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("main form #id_username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/dashboard/")


def logout(page) -> None:
    page.context.clear_cookies()


def assert_axe_clean(page, label: str) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe on {label} ({page.url}):\n" + json.dumps(found, ensure_ascii=False, indent=2)


def label_my_queue(page, live_server, project, keys: str) -> None:
    page.goto(f"{live_server.url}/data/labeling/{project.pk}/annotate/")
    for ordinal, key in enumerate(keys, start=1):
        expect(page.locator("main h1")).to_contain_text(f"任务 #{ordinal}")
        expect(page.locator(".labeling-text")).to_have_text(TEXTS[ordinal - 1])
        page.keyboard.press(key)
        expect(page.locator(f"input[name=labels][value={KEYS[key]}]")).to_be_checked()
        expect(page.locator("#labeling-status")).to_contain_text("已选择")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
    expect(page.locator("main h1")).to_have_text("我的队列已完成")


def test_three_annotators_label_with_the_keyboard_and_see_agreement(page, live_server, lworld):
    from gaodi.apps.data.labeling_models import Annotation

    project = lworld.project
    for username, keys in PLAN.items():
        keyboard_login(page, live_server, username)
        if username == "anna":
            # skipping with "]" and going back with "[" move through the queue without saving
            page.goto(f"{live_server.url}/data/labeling/{project.pk}/annotate/")
            expect(page.locator("main h1")).to_contain_text("任务 #1")
            page.keyboard.press("]")
            expect(page.locator("main h1")).to_contain_text("任务 #2")
            page.keyboard.press("[")
            expect(page.locator("main h1")).to_contain_text("任务 #1")
            page.keyboard.press("Enter")  # nothing chosen: announced, not submitted
            expect(page.locator("#labeling-status")).to_contain_text("请先选择一个标签")
            assert not Annotation.objects.filter(annotator=lworld.anna).exists()
        label_my_queue(page, live_server, project, keys)
        logout(page)
    saved = {u: "".join({v: k for k, v in KEYS.items()}[a.value[0]] for a in
                        Annotation.objects.filter(annotator__username=u).order_by("task__ordinal")) for u in PLAN}
    assert saved == PLAN

    ratings = np.array([[int(PLAN[u][i]) for u in sorted(PLAN)] for i in range(len(TEXTS))])
    fleiss = float(fleiss_kappa(aggregate_raters(ratings)[0], method="fleiss"))
    alpha = float(krippendorff.alpha(reliability_data=ratings.T.astype(float), level_of_measurement="nominal"))
    anna_ben = float(cohen_kappa_score(list(PLAN["anna"]), list(PLAN["ben"])))
    keyboard_login(page, live_server, "mona")
    page.goto(f"{live_server.url}/data/labeling/{project.pk}/agreement/")
    expect(page.locator("#fleiss-row")).to_contain_text(f"{fleiss:.3f}")
    expect(page.locator("#fleiss-row")).to_contain_text("4 个任务")
    expect(page.locator("#krippendorff-row")).to_contain_text(f"{alpha:.3f}")
    anna_row = page.locator("#pairwise-agreement tbody tr", has_text="anna").filter(has_text="ben")
    expect(anna_row).to_contain_text(f"{anna_ben:.3f}")
    assert_axe_clean(page, "agreement")

    # the reviewer sees the disagreements first and decides one with the keyboard
    logout(page)
    keyboard_login(page, live_server, "rex")
    page.goto(f"{live_server.url}/data/labeling/{project.pk}/review/")
    first = page.locator("table tbody tr").first
    expect(first).to_contain_text("有分歧")
    first.locator("a").click()
    expect(page.locator("main h1")).to_contain_text("审核任务")
    assert_axe_clean(page, "review task")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("最终标注已记录")
    assert project.tasks.filter(state="decided").count() == 1


def test_entity_spans_with_shift_and_arrows(page, live_server, bworld):
    from gaodi.apps.data.labeling_models import Annotation

    lw = build_labeling_world(bworld)
    project = make_project(lw, kind="ner", labels=ENTITIES, overlap=1, annotators=("anna",), name="人名地名")
    import_text(lw, project, add_file(bworld.paul, make_dataset(bworld), csv_bytes(["张三在上海工作", "李四去北京"])))
    keyboard_login(page, live_server, "anna")
    page.goto(f"{live_server.url}/data/labeling/{project.pk}/annotate/")
    area = page.locator("#ner-text")
    expect(area).to_be_focused()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")
    expect(page.locator("#span-list")).to_contain_text("[人名] “张三”")
    # the marked text stays selected: ArrowRight collapses the selection to its end (2), then moves on
    for key in ("ArrowRight", "ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight"):
        page.keyboard.press(key)
    page.keyboard.press("1")  # 上海 as a person first ...
    page.keyboard.press("2")  # ... the same selection again with another key changes its type
    expect(page.locator("#span-list")).to_contain_text("[地名] “上海”")
    expect(page.locator("#labeling-status")).to_contain_text("已改为地名")
    page.keyboard.press("ArrowLeft")  # collapses the selection to its start (3)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("3")  # 在上 overlaps 上海: refused, nothing changes
    expect(page.locator("#labeling-status")).to_contain_text("重叠")
    expect(page.locator("#span-list li")).to_have_count(2)
    assert_axe_clean(page, "entity task")
    page.locator("html").evaluate("el => el.classList.add('elder')")
    assert_axe_clean(page, "entity task (elder)")
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_contain_text("任务 #2")
    saved = Annotation.objects.get(task__ordinal=1, task__project=project)
    assert saved.value == [{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "LOC"}]
    # back to task 1: the spans are shown again; Backspace at the caret removes the entity there
    page.keyboard.press("[")
    expect(page.locator("#span-list li")).to_have_count(2)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Backspace")
    expect(page.locator("#span-list li")).to_have_count(1)
    expect(page.locator("#labeling-status")).to_contain_text("已删除实体：张三")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("任务 #1 已保存")
    saved.refresh_from_db()
    assert saved.value == [{"start": 3, "end": 5, "label": "LOC"}]


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_labeling_pages_have_no_serious_axe_violations(page, live_server, lworld, mode):
    project = lworld.project
    task = project.tasks.order_by("ordinal").first()
    pages = {
        "anna": [f"/data/labeling/tasks/{task.pk}/", "/data/labeling/"],
        "mona": [f"/data/labeling/{project.pk}/", f"/data/labeling/{project.pk}/agreement/", "/data/labeling/new/",
                 f"/data/labeling/{project.pk}/imports/new/", f"/data/labeling/{project.pk}/review/",
                 f"/data/labeling/tasks/{task.pk}/review/"],
    }
    for username, urls in pages.items():
        keyboard_login(page, live_server, username)
        for url in urls:
            page.goto(live_server.url + url)
            expect(page.locator("main h1")).to_be_visible()
            if mode == "elder" and not page.locator("html.elder").count():
                page.locator("header .elder-toggle").get_by_role("button", name="长者模式").click()
                expect(page.locator("html")).to_have_class("elder")
            assert_axe_clean(page, f"{url} ({mode})")
        logout(page)
    page.goto(live_server.url + "/data/labeling/")
    assert_axe_clean(page, f"public intro ({mode})")
