"""URLconf for benchmarks: the real site plus a bare baseline view.

Mounted with ``GAODI_URLCONF=bench.baseline_urls`` (and the repository root on ``PYTHONPATH``) by
``bench/web_catalog.py``; nothing else uses it. ``/bench/bare/`` renders a template that only extends
``base.html`` with an empty content block, through the same middleware and context processors as the
real pages, so "page time / bare time" isolates what a page adds on top of the site's fixed cost.
"""

from __future__ import annotations

from functools import cache

from django.http import HttpResponse
from django.template import engines
from django.urls import path

from gaodi.config.urls import urlpatterns as site

BARE_TEMPLATE = '{% extends "base.html" %}{% block content %}{% endblock %}'


@cache
def _bare_template():
    return engines["django"].from_string(BARE_TEMPLATE)


def bare(request):
    """The site's shell with nothing in it: rendered with the request, so context processors run."""
    return HttpResponse(_bare_template().render({}, request))


urlpatterns = [*site, path("bench/bare/", bare, name="bench_bare")]
