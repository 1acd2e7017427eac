"""A large dataset version is imported by the worker (the real django-tasks database worker), with
progress that the project page polls; a small one is imported at once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from test_data_labeling_support import (
    add_file,
    build_labeling_world,
    csv_bytes,
    import_text,
    make_dataset,
    make_project,
)

from gaodi.apps.data import labeling_actions as actions
from gaodi.apps.data.labeling_models import Assignment


@pytest.mark.django_db(transaction=True)
def test_large_import_runs_in_the_worker_with_progress(world, settings, client, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    settings.GAODI_LABELING_INLINE_IMPORT_BYTES = 1024
    settings.GAODI_LABELING_READ_CHUNK_BYTES = 4096
    lw = build_labeling_world(world)
    project = make_project(lw, overlap=2)
    texts = [f"第 {i} 条评论：物流{'很快' if i % 2 else '太慢'}，包装完好。" for i in range(3000)]
    version = add_file(world.paul, make_dataset(world), csv_bytes(texts))
    assert version.size > 100_000
    batch = import_text(lw, project, version)
    assert batch.state == "pending" and project.tasks.count() == 0
    client.force_login(lw.mona)
    panel = client.get(f"/data/labeling/imports/{batch.pk}/").content.decode()
    assert "hx-get" in panel and "<progress" in panel
    with pytest.raises(ValidationError, match="尚未完成"):
        import_text(lw, project, version, column="编号")
    written = []
    original = actions._progress_writer

    def recording(batch_id):
        write = original(batch_id)

        def record(percent):
            written.append(int(percent))
            write(percent)
        return record

    monkeypatch.setattr(actions, "_progress_writer", recording)
    task = DBTaskResult.objects.get(task_path__endswith="run_labeling_import")
    call_command("db_worker", "--batch", "--no-startup-delay")
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    batch.refresh_from_db()
    assert (batch.state, batch.progress, batch.created_count) == ("done", 100, 3000)
    assert len(written) > 10 and written == sorted(written) and 0 < written[len(written) // 2] < 100
    assert Assignment.objects.filter(task__project=project).count() == 6000  # assigned when done
    panel = client.get(f"/data/labeling/imports/{batch.pk}/").content.decode()
    assert "hx-get" not in panel and "已导入 3000 个" in panel
    assert client.get(f"/data/labeling/{project.pk}/").status_code == 200
