"""`gaodi compute reconcile` runs the service's reconciliation and reports what it did."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_reconcile_command_reports_a_summary():
    out = io.StringIO()
    call_command("compute", "reconcile", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert {"dispatched", "updated", "unavailable", "cancel_sent", "lapsed"} <= set(summary)
    assert summary["dispatched"] == 0 and summary["unavailable"] == []
