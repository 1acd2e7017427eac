"""Concurrency on PostgreSQL: row locks keep filing numbers and the audit chain consistent when
many reviewers approve at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from gaodi.apps.algorithms import actions
from gaodi.apps.algorithms.models import AlgorithmFiling
from gaodi.apps.core import audit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_approvals_get_unique_numbers_and_a_valid_audit_chain(world, make_filing):
    filings = [make_filing("submitted", name=f"并发算法{i}") for i in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(filings))

    def approve(filing):
        try:
            barrier.wait()
            actions.approve_filing(world.rita, filing)
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(f,)) for f in filings]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    numbers = list(AlgorithmFiling.objects.filter(pk__in=[f.pk for f in filings]).values_list("filing_number", flat=True))
    assert len(set(numbers)) == 8 and all(numbers)
    serials = sorted(int(n[-4:]) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + 8))
    assert audit.verify().ok
