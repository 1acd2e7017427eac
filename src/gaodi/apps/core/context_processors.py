from django.conf import settings


def platform(request):
    user = getattr(request, "user", None)
    elder = request.COOKIES.get("elder") == "1" or bool(user and user.is_authenticated and user.elder_mode)
    unread = 0
    if user is not None and user.is_authenticated:
        unread = user.notifications.filter(read_at__isnull=True).count()
    return {"site_name": settings.GAODI_SITE_NAME, "elder_mode": elder, "unread_notifications": unread}
