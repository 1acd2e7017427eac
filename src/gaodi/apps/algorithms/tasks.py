"""Background tasks of the filing domain (run by `gaodi worker`)."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_tasks import task

from gaodi.apps.core.exports import FORMATS


def export_path(batch, fmt: str) -> str:
    return f"disclosures/{batch.number}.{fmt}"


@task()
def render_batch_exports(batch_id: int) -> dict[str, str]:
    """Write a published batch's CSV, Excel and JSON once, as files, so every later download is
    byte-for-byte the same artifact; returns each file's SHA-256. Idempotent: re-running rewrites
    identical content (the batch itself is frozen)."""
    from .models import DisclosureBatch
    from .views import batch_export_response

    batch = DisclosureBatch.objects.get(pk=batch_id)
    digests = {}
    for fmt in FORMATS:
        content = batch_export_response(batch, fmt).content
        path = export_path(batch, fmt)
        if default_storage.exists(path):
            default_storage.delete(path)
        default_storage.save(path, ContentFile(content))
        digests[fmt] = hashlib.sha256(content).hexdigest()
    return digests
