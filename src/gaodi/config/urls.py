from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from gaodi.apps.core.api import api

urlpatterns = [
    path("", include("gaodi.apps.core.urls")),
    path("", include("gaodi.apps.algorithms.urls")),
    path("compute/", include("gaodi.apps.compute.urls")),
    path("data/", include("gaodi.apps.data.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

# Browsers ask for /favicon.ico whatever the page says; answer with the vendored icon.
urlpatterns.append(path("favicon.ico", RedirectView.as_view(url="/static/favicon.svg", permanent=True)))
