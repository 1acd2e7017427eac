"""Core pages: home, the regulation, the user's dashboard, notifications, tokens, preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import actions, features
from .models import Article, Chapter


def home(request):
    from gaodi.apps.algorithms.models import AlgorithmFiling, DisclosureBatch, State

    stats = {
        "filed": AlgorithmFiling.objects.filter(state=State.APPROVED).count(),
        "batches": DisclosureBatch.objects.count(),
        "articles": Article.objects.count(),
    }
    latest = (AlgorithmFiling.objects.filter(state=State.APPROVED).select_related("organization")
              .order_by("-approved_at")[:6])
    batches = DisclosureBatch.objects.select_related("department")[:3]
    return render(request, "core/home.html", {"stats": stats, "latest": latest, "batches": batches})


def regulation(request):
    chapters = Chapter.objects.prefetch_related("articles")
    implemented = {n for f in features.all_features() for n in f.articles}
    return render(request, "core/regulation.html", {"chapters": chapters, "implemented": implemented})


def article(request, number: int):
    art = get_object_or_404(Article.objects.select_related("chapter"), number=number)
    neighbours = {
        "previous": Article.objects.filter(number__lt=number).order_by("-number").first(),
        "next": Article.objects.filter(number__gt=number).order_by("number").first(),
    }
    return render(request, "core/article.html",
                  {"article": art, "features": features.for_article(number), **neighbours})


@login_required
def dashboard(request):
    from gaodi.apps.algorithms.views import dashboard_context

    return render(request, "core/dashboard.html", dashboard_context(request.user))


@login_required
def notifications(request):
    qs = request.user.notifications.all()
    if request.method == "POST":
        actions.mark_notifications_read(request.user)
        return redirect("core:notifications")
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "core/notifications.html", {"page": page})


@login_required
def tokens(request):
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(request.user.tokens, pk=request.POST.get("revoke"))
            actions.revoke_token(request.user, token)
            messages.success(request, _("令牌已吊销。"))
            return redirect("core:tokens")
        try:
            days = int(request.POST.get("days") or 90)
        except ValueError:
            days = -1
        try:
            _token, new_key = actions.create_token(request.user, request.POST.get("name", ""), days)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
    return render(request, "core/tokens.html", {"tokens": request.user.tokens.all(), "new_key": new_key})


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return "/"
    return target


@require_POST
def toggle_elder(request):
    """Elder-friendly mode (Art. 68): a cookie for everyone, remembered on the account when logged in."""
    on = request.POST.get("elder") == "1"
    response = HttpResponseRedirect(_safe_next(request))
    response.set_cookie("elder", "1" if on else "0", max_age=365 * 86400, samesite="Lax",
                        secure=request.is_secure())
    actions.set_elder_mode(request.user, on)
    return response


def csrf_failure(request, reason: str = ""):
    return render(request, "403_csrf.html", status=403)
