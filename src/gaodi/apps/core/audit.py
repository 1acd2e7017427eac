"""The audit log: every action appends one entry whose hash covers the previous entry's hash.

Changing, inserting or deleting any row breaks the chain from that row on; `verify()` (and
`gaodi audit verify`) reports the first entry where the recomputed chain disagrees with the stored one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry

GENESIS = "0" * 64
# Any constant works; it only serialises concurrent appenders on PostgreSQL.
_PG_LOCK_KEY = 0x6A0D1A0D17


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "id": entry.id,
        "at": entry.created_at.isoformat(),
        "actor": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "data": entry.data,
        "prev": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder).encode()


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _lock_chain() -> None:
    # SQLite runs IMMEDIATE transactions one at a time already; PostgreSQL needs an explicit lock so
    # two appenders never read the same tail.
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def record(actor, action: str, obj=None, data: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry. Call inside the action's transaction so the entry and the change land together."""
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-id").only("id", "hash").first()
        entry = AuditEntry(
            created_at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_name=getattr(actor, "username", "") or "",
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
            prev_hash=last.hash if last else GENESIS,
            hash="pending",
        )
        # The id is part of the hashed body, so deleting a row is detected even if hashes are re-linked.
        entry.id = (last.id + 1) if last else 1
        entry.hash = compute_hash(entry)
        entry.save(force_insert=True)
        return entry


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify() -> VerifyResult:
    """Walk the chain in order; report the first entry whose hash, link or sequence is wrong."""
    expected_prev = GENESIS
    expected_id = 1
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        if entry.id != expected_id:
            return VerifyResult(checked, entry.id, f"entry {expected_id} is missing (next is {entry.id})")
        if entry.prev_hash != expected_prev:
            return VerifyResult(checked, entry.id, "link to the previous entry does not match")
        if compute_hash(entry) != entry.hash:
            return VerifyResult(checked, entry.id, "content does not match its hash (row altered)")
        expected_prev, expected_id = entry.hash, entry.id + 1
        checked += 1
    return VerifyResult(checked)
