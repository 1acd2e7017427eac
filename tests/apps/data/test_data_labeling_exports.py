"""Exports of final labels and of all annotations: JSON Lines, CSV and CoNLL (BIO per character for
Chinese text, per whitespace token otherwise), with their exact contents."""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_data_labeling_support import (
    ENTITIES,
    add_file,
    annotate,
    build_labeling_world,
    csv_bytes,
    import_text,
    make_dataset,
    make_project,
)

from gaodi.apps.data import labeling_actions as actions
from gaodi.apps.data.labeling_forms import DecisionForm
from gaodi.apps.data.labeling_schema import bio_tags, tokens


@pytest.fixture
def lw(world):
    return build_labeling_world(world)


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def decide(lw, task, **data):
    return actions.decide_task(lw.rex, task, DecisionForm(data=data, task=task))


@pytest.fixture
def classified(lw, world):
    project = make_project(lw, overlap=2, annotators=("anna", "ben"))
    version = add_file(world.paul, make_dataset(world), csv_bytes(["服务很好", "=1+1 太慢了", "价格一般"]))
    import_text(lw, project, version)
    t1, t2, t3 = project.tasks.order_by("ordinal")
    annotate(lw.anna, t1, ["positive"])
    annotate(lw.ben, t1, ["positive"])
    annotate(lw.anna, t2, ["negative"])
    annotate(lw.ben, t2, ["neutral"])
    decide(lw, t1, accept=t1.annotations.get(annotator=lw.anna).pk)
    decide(lw, t2, labels=["negative"], note="以差评为准")
    return project, version


def test_classification_exports(lw, classified, client):
    project, version = classified
    client.force_login(lw.mona)
    url = f"/data/labeling/{project.pk}/export/"
    final = [json.loads(line) for line in body(client.get(url, {"format": "jsonl", "scope": "final"})).splitlines()]
    assert [(r["ordinal"], r["text"], r["labels"], r["decided_by"]) for r in final] == [
        (1, "服务很好", ["positive"], "rex"), (2, "=1+1 太慢了", ["negative"], "rex")]
    assert final[0]["source"] == {"version_id": version.pk, "row": 1, "id": "1", "file": None}
    everything = [json.loads(line) for line in body(client.get(url, {"format": "jsonl", "scope": "all"})).splitlines()]
    assert [r["ordinal"] for r in everything] == [1, 2, 3]
    assert everything[1]["annotations"] == [
        {"annotator": "anna", "labels": ["negative"], "updated_at": everything[1]["annotations"][0]["updated_at"]},
        {"annotator": "ben", "labels": ["neutral"], "updated_at": everything[1]["annotations"][1]["updated_at"]}]
    assert everything[1]["final"]["labels"] == ["negative"] and everything[2]["final"] is None
    response = client.get(url, {"format": "csv", "scope": "final"})
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0] == ["task_id", "ordinal", "source_id", "source_row", "text", "labels", "decided_by", "decided_at"]
    assert [r[1:7] for r in rows[1:]] == [["1", "1", "1", "服务很好", "positive", "rex"],
                                          ["2", "2", "2", "=1+1 太慢了", "negative", "rex"]]  # text exactly as labelled
    rows = list(csv.reader(io.StringIO(body(client.get(url, {"format": "csv", "scope": "all"})))))
    assert [(r[1], r[5], r[6], r[8]) for r in rows[1:]] == [("1", "anna", "positive", "positive"),
                                                            ("1", "ben", "positive", "positive"),
                                                            ("2", "anna", "negative", "negative"),
                                                            ("2", "ben", "neutral", "negative")]
    refused = client.get(url, {"format": "conll"})
    assert refused.status_code == 400 and "只适用于命名实体项目" in refused.content.decode()
    assert client.get(url, {"format": "xml"}).status_code == 400
    assert client.get(url, {"format": "csv", "scope": "some"}).status_code == 400


def test_export_permissions(lw, classified, client):
    project, _version = classified
    url = f"/data/labeling/{project.pk}/export/?format=jsonl"
    client.force_login(lw.anna)  # an annotator sees the project, not everyone's labels
    assert client.get(url).status_code == 404
    client.force_login(lw.oscar)
    assert client.get(url).status_code == 404
    client.force_login(lw.rex)
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code == 302


def test_entity_exports_and_conll(lw, world, client):
    project = make_project(lw, kind="ner", labels=ENTITIES, overlap=2, annotators=("anna", "ben"))
    import_text(lw, project, add_file(world.paul, make_dataset(world), csv_bytes(["张三在上海 工作", "Alice met Bob"])))
    zh, en = project.tasks.order_by("ordinal")
    annotate(lw.anna, zh, spans=[{"start": 0, "end": 2, "label": "PER"}, {"start": 3, "end": 5, "label": "LOC"}])
    annotate(lw.ben, zh, spans=[{"start": 0, "end": 2, "label": "PER"}])
    annotate(lw.anna, en, spans=[{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 13, "label": "PER"}])
    decide(lw, zh, accept=zh.annotations.get(annotator=lw.anna).pk)
    client.force_login(lw.mona)
    url = f"/data/labeling/{project.pk}/export/"
    conll = body(client.get(url, {"format": "conll", "scope": "final"}))
    assert conll == (f"# task_id = {zh.pk}\n# source_id = 1\n"
                     "张\tB-PER\n三\tI-PER\n在\tO\n上\tB-LOC\n海\tI-LOC\n工\tO\n作\tO\n\n")
    everything = body(client.get(url, {"format": "conll", "scope": "all"}))
    assert everything.startswith("# columns = token anna ben final\n\n")
    assert "海\tI-LOC\tO\tI-LOC\n" in everything
    assert (f"# task_id = {en.pk}\n# source_id = 2\nAlice\tB-PER\t_\t_\nmet\tO\t_\t_\nBob\tB-PER\t_\t_\n\n"
            in everything)
    final = json.loads(body(client.get(url, {"format": "jsonl"})))
    assert final["spans"] == [{"start": 0, "end": 2, "label": "PER", "text": "张三"},
                              {"start": 3, "end": 5, "label": "LOC", "text": "上海"}]
    rows = list(csv.reader(io.StringIO(body(client.get(url, {"format": "csv", "scope": "all"})))))
    assert rows[0][3:8] == ["annotator", "start", "end", "label", "span_text"]
    assert [(r[3], r[6], r[7]) for r in rows[1:]] == [("anna", "PER", "张三"), ("anna", "LOC", "上海"),
                                                      ("ben", "PER", "张三"), ("anna", "PER", "Alice"),
                                                      ("anna", "PER", "Bob")]


def test_tokens_and_bio_edge_cases():
    assert tokens("") == [] and bio_tags("", []) == []
    assert [("上 海"[s:e]) for s, e in tokens("上 海")] == ["上", "海"]  # whitespace is never a token
    text = "New-York city"
    # a span covering part of a word tags the whole word; two spans in one word: the word takes the first
    assert bio_tags(text, [{"start": 0, "end": 3, "label": "LOC"}]) == ["B-LOC", "O"]
    assert bio_tags(text, [{"start": 0, "end": 3, "label": "LOC"}, {"start": 4, "end": 8, "label": "ORG"},
                           {"start": 9, "end": 13, "label": "ORG"}]) == ["B-LOC", "B-ORG"]
    assert bio_tags("甲乙丙", [{"start": 0, "end": 1, "label": "A"}, {"start": 1, "end": 3, "label": "A"}]) == [
        "B-A", "B-A", "I-A"]  # two adjacent entities of one type stay two entities
    mixed = "我用Python"
    assert len(tokens(mixed)) == 8  # text with Han characters: one token per character
