"""Shared fixtures: a small world of organizations and users with roles, and the service switch.

Tests that need an outside service (Chromium, PostgreSQL, Slurm) call `require_service`: it skips
with the reason on a developer machine that lacks it, and fails under GAODI_REQUIRE_SERVICES=1,
which `.ci/run` sets so that CI skips nothing.
"""

from __future__ import annotations

import os

import pytest

from tests.factories import FILING_DATA, pdf_upload

REQUIRE_SERVICES = os.environ.get("GAODI_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (GAODI_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    # Uploads and generated files go to a per-test folder, never into ./var.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.GAODI_COMPUTE_JOB_ROOT = tmp_path / "compute-jobs"


@pytest.fixture(autouse=True)
def _isolated_cache(settings, request):
    # Each test gets its own in-memory cache, so rate-limit counters never leak between tests or runs.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": request.node.nodeid}}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is the production hasher (tested in test_security.py); tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db):
    """Two enterprises, two departments (reviewers and publishers), an outsider."""
    from gaodi.apps.core.models import Membership, Organization, User

    def org(code, name, kind, **kw):
        return Organization.objects.create(code=code, name=name, kind=kind, **kw)

    def user(username, organization=None, role=None, **kw):
        u = User.objects.create_user(username=username, password="correct-horse-battery", **kw)
        if organization:
            Membership.objects.create(user=u, organization=organization, role=role)
        return u

    ent_a = org("E0001", "甲智能科技有限公司", "enterprise", district="310104", industry="software_it",
                employees=80, annual_revenue=3000, name_en="Jia AI Technology")
    ent_b = org("E0002", "乙数据科技有限公司", "enterprise", district="310115", industry="software_it",
                employees=900, annual_revenue=90000)
    cyber = org("D04", "上海市互联网信息办公室", "department", duty="cyberspace")
    economy = org("D01", "上海市经济和信息化委员会", "department", duty="economy")
    w = type("World", (), {})()
    w.ent_a, w.ent_b, w.cyber, w.economy = ent_a, ent_b, cyber, economy
    w.alice = user("alice", ent_a, "member")
    w.bob = user("bob", ent_b, "member")
    w.rita = user("rita", cyber, "reviewer")
    w.ron = user("ron", economy, "reviewer")
    w.paul = user("paul", cyber, "publisher")
    w.nobody = user("nobody")
    w.admin = user("root", is_superuser=True, is_staff=True)
    return w


@pytest.fixture
def make_filing(world):
    """Create a filing through the actions and move it to the wanted state."""
    from gaodi.apps.algorithms import actions
    from gaodi.apps.algorithms.forms import FilingForm

    def make(state="draft", owner=None, org=None, department=None, **overrides):
        owner = owner or world.alice
        org = org or world.ent_a
        department = department or world.cyber
        data = {**FILING_DATA, "department": department.pk, **overrides}
        form = FilingForm(data=data, files={"report": pdf_upload()})
        filing = actions.create_filing(owner, org, form)
        reviewer = world.rita if department == world.cyber else world.ron
        if state == "draft":
            return filing
        filing = actions.submit_filing(owner, filing)
        if state == "submitted":
            return filing
        if state == "returned":
            return actions.return_filing(reviewer, filing, "请补充运行机制说明")
        if state == "rejected":
            return actions.reject_filing(reviewer, filing, "不属于备案范围")
        filing = actions.approve_filing(reviewer, filing)
        if state == "approved":
            return filing
        filing = actions.request_deregistration(owner, filing, "产品下线")
        if state == "deregistration_requested":
            return filing
        return actions.decide_deregistration(reviewer, filing, True)

    return make


def _database_vendor() -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else "sqlite" if "sqlite" in engine else engine


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need PostgreSQL as the database under test.

    On a SQLite run they skip with the reason; under GAODI_REQUIRE_SERVICES=1 (CI) they are
    deselected instead, because CI's PostgreSQL pass runs them, so CI skips nothing.
    """
    if _database_vendor() == "postgresql":
        return
    marked = [item for item in items if item.get_closest_marker("postgres")]
    if not marked:
        return
    if REQUIRE_SERVICES:
        config.hook.pytest_deselected(items=marked)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://… (CI does)")
    for item in marked:
        item.add_marker(skip)
