"""The labeling API (/api/v1/data/labeling): the same rules as the pages, with field-named 422 errors."""

from __future__ import annotations

import json

import pytest
from test_data_labeling_support import (
    SENTIMENT,
    TEXTS,
    add_file,
    build_labeling_world,
    csv_bytes,
    make_dataset,
)

from gaodi.apps.core.models import PersonalAccessToken
from gaodi.apps.data.labeling_models import Annotation, LabelingProject

API = "/api/v1/data/labeling"


@pytest.fixture
def lw(world):
    return build_labeling_world(world)


class Caller:
    def __init__(self, client, user):
        self.client = client
        _token, key = PersonalAccessToken.generate(user, "test")
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def get(self, path, **params):
        return self.client.get(API + path, params, **self.headers)

    def send(self, method, path, body=None):
        return getattr(self.client, method)(API + path, data=json.dumps(body or {}), content_type="application/json",
                                            **self.headers)


def labels():
    return [{"value": line.split("|")[0].strip(), "name": line.split("|")[1].strip()} for line in SENTIMENT.splitlines()]


def test_full_flow_through_the_api(lw, world, client):
    mona, anna, rex = Caller(client, lw.mona), Caller(client, lw.anna), Caller(client, lw.rex)
    bad = mona.send("post", "/projects", {"organization": lw.org.pk, "name": "API 项目", "kind": "text_classification",
                                          "overlap": 2, "labels": [{"value": "a"}, {"value": "a"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "labels" and "重复" in bad.json()["detail"][0]["message"]
    assert anna.send("post", "/projects", {"organization": lw.org.pk, "name": "x", "kind": "ner",
                                           "labels": [{"value": "PER"}]}).status_code == 403
    created = mona.send("post", "/projects", {"organization": lw.org.pk, "name": "API 项目", "kind": "text_classification",
                                              "overlap": 2, "labels": labels()})
    assert created.status_code == 201, created.content
    project = created.json()
    assert [label["key"] for label in project["labels"]] == ["1", "2", "3"]
    pid = project["id"]
    for name in ("anna", "ben"):
        assert mona.send("post", f"/projects/{pid}/annotators", {"username": name}).status_code == 201
    wrong = mona.send("post", f"/projects/{pid}/annotators", {"username": "oscar"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "username"
    version = add_file(world.paul, make_dataset(world), csv_bytes(TEXTS))
    missing = mona.send("post", f"/projects/{pid}/imports", {"version_id": version.pk})
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "text_column"
    batch = mona.send("post", f"/projects/{pid}/imports", {"version_id": version.pk, "text_column": "评论"})
    assert batch.status_code == 201 and batch.json()["state"] == "done" and batch.json()["created"] == len(TEXTS)
    assert mona.get(f"/imports/{batch.json()['id']}").json()["progress"] == 100
    assert anna.get(f"/imports/{batch.json()['id']}").status_code == 404
    tasks = anna.get(f"/projects/{pid}/tasks").json()
    assert tasks["count"] == len(TEXTS)  # overlap 2 with two annotators: everyone labels everything
    first = tasks["items"][0]["id"]
    refused = anna.send("put", f"/tasks/{first}/annotation", {"labels": ["spam"]})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "labels"
    saved = anna.send("put", f"/tasks/{first}/annotation", {"labels": ["positive"]})
    assert saved.status_code == 200 and saved.json()["value"] == ["positive"]
    again = anna.send("put", f"/tasks/{first}/annotation", {"labels": ["positive", "negative"]})
    assert again.status_code == 422 and Annotation.objects.get(pk=saved.json()["id"]).value == ["positive"]
    Caller(client, lw.ben).send("put", f"/tasks/{first}/annotation", {"labels": ["negative"]})
    assert [a["annotator"] for a in anna.get(f"/tasks/{first}/annotations").json()] == ["anna"]  # only her own
    assert len(rex.get(f"/tasks/{first}/annotations").json()) == 2
    assert anna.get(f"/tasks/{first}").json()["state"] == "complete"
    assert anna.get(f"/projects/{pid}/next").json()["task"]["id"] != first
    assert anna.send("post", f"/tasks/{first}/decision", {"labels": ["positive"]}).status_code == 403
    decision = rex.send("post", f"/tasks/{first}/decision", {"accept": saved.json()["id"], "note": "采纳"})
    assert decision.status_code == 201 and decision.json()["value"] == ["positive"]
    assert rex.get(f"/tasks/{first}").json()["decided_by"] == "rex"
    assert len(rex.get(f"/tasks/{first}/decisions").json()) == 1
    assert anna.get(f"/projects/{pid}/agreement").status_code == 403
    agreement = rex.get(f"/projects/{pid}/agreement").json()
    assert agreement["pairs"][0]["n"] == 1 and agreement["pairs"][0]["value"] == 0.0  # one item, disagreeing
    export = rex.get(f"/projects/{pid}/export", format="jsonl")
    assert export.status_code == 200 and json.loads(b"".join(export.streaming_content))["labels"] == ["positive"]
    conll = rex.get(f"/projects/{pid}/export", format="conll")
    assert conll.status_code == 422 and conll.json()["detail"][0]["field"] == "format"
    closed = mona.send("post", f"/projects/{pid}/close")
    assert closed.json()["closed"] is True
    late = anna.send("put", f"/tasks/{tasks['items'][1]['id']}/annotation", {"labels": ["neutral"]})
    assert late.status_code == 422 and "已结项" in late.json()["detail"][0]["message"]


def test_visibility_and_authentication(lw, world, client):
    project = LabelingProject.objects.create(organization=lw.org, name="私有项目", kind="ner",
                                             labels=[{"value": "PER", "name": "人名", "key": "1"}], created_by=lw.mona)
    assert client.get(f"{API}/projects/{project.pk}").status_code == 401
    assert Caller(client, lw.oscar).get(f"/projects/{project.pk}").status_code == 404
    assert Caller(client, lw.anna).get(f"/projects/{project.pk}").status_code == 404  # not yet an annotator
    assert Caller(client, lw.rex).get(f"/projects/{project.pk}").status_code == 200
    assert Caller(client, world.alice).get("/projects").json()["count"] == 0
    put = Caller(client, lw.rex).send("put", f"/projects/{project.pk}",
                                      {"name": "改名", "kind": "ner", "overlap": 2, "labels": [{"value": "PER"}]})
    assert put.status_code == 403  # a reviewer reviews; managers change the project
    ok = Caller(client, lw.mona).send("put", f"/projects/{project.pk}",
                                      {"name": "改名", "kind": "ner", "overlap": 2, "labels": [{"value": "PER"}]})
    assert ok.status_code == 200 and ok.json()["name"] == "改名"
