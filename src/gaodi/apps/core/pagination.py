"""Pagination for public lists that may match a large share of a big table."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """Counts at most `cap` + 1 rows: an exact COUNT(*) over a broad search is the dominant cost of a
    public list page at 100,000 filings (docs/benchmarks.md). Pages beyond the cap are not offered;
    the page says "more than N" and invites a narrower search."""

    cap = 2000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap
