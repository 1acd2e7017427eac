"""Who may see and change data products.

- A published product (and its listing history) is public.
- Drafts and withdrawn products are seen only by the publishing organization's publishers (and
  superusers); to everyone else they do not exist (404).
- The publishing organization's publishers create, edit, publish and withdraw products and record
  their listing status at the exchange.
"""

from __future__ import annotations

from django.db.models import Q

from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .policies import publisher_ids
from .products_models import DataProduct, ProductState


@register
class DataProductPolicy(Policy):
    model = DataProduct

    def visible(self, user, qs):
        if is_authenticated(user) and user.is_superuser:
            return qs
        return qs.filter(Q(state=ProductState.PUBLISHED) | Q(publisher_id__in=publisher_ids(user)))

    def can(self, user, perm, obj=None):
        if perm == "add":
            return bool(publisher_ids(user))
        if obj is None:
            return False
        if perm == "view":
            return obj.state == ProductState.PUBLISHED or obj.publisher_id in publisher_ids(user) or (
                is_authenticated(user) and user.is_superuser)
        if perm in ("change", "publish", "list"):
            return obj.publisher_id in publisher_ids(user)
        return False
