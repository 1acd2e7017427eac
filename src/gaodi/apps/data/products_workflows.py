"""Two workflows on a data product, both with insert-only history rows through the core workflow:

- publication on this platform (draft → published ⇄ withdrawn);
- the listing status at the Shanghai Data Exchange as the publisher records it (not submitted →
  submitted → listed → delisted). The exchange decides; the platform only records what happened there.

Transition names differ between the two, so the product page can split one history into two.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .products_models import ListingStatus as L
from .products_models import ProductState as S
from .products_policies import DataProductPolicy

_policy = DataProductPolicy()


def _publisher(user, product) -> bool:
    return _policy.can(user, "change", product)


PRODUCT = Workflow("data_product", dict(S.choices))
PRODUCT.add(Transition("publish", _("发布"), (S.DRAFT, S.WITHDRAWN), S.PUBLISHED, _publisher))
PRODUCT.add(Transition("withdraw", _("下架"), (S.PUBLISHED,), S.WITHDRAWN, _publisher, comment_required=True,
                       style="danger"))

# The deadline field is not a model field: listing has no platform deadline (the exchange sets its own).
LISTING = Workflow("data_product_listing", dict(L.choices), state_field="listing_status",
                   deadline_field="_listing_deadline")
LISTING.add(Transition("listing_submit", _("记录已提交挂牌申请"), (L.NOT_SUBMITTED, L.DELISTED), L.SUBMITTED,
                       _publisher))
LISTING.add(Transition("listing_list", _("记录已挂牌"), (L.SUBMITTED,), L.LISTED, _publisher))
LISTING.add(Transition("listing_return", _("记录挂牌申请未通过或已撤回"), (L.SUBMITTED,), L.NOT_SUBMITTED,
                       _publisher, comment_required=True, style="secondary"))
LISTING.add(Transition("listing_delist", _("记录已摘牌"), (L.LISTED,), L.DELISTED, _publisher,
                       comment_required=True, style="danger"))

PRODUCT_TRANSITIONS = tuple(PRODUCT.transitions)
LISTING_TRANSITIONS = tuple(LISTING.transitions)
