from django.urls import path

from . import catalog_views as views

urlpatterns = [
    path("catalog/", views.catalog_list, name="catalog_list"),
    path("catalog/<int:pk>/", views.catalog_detail, name="catalog_detail"),
    path("catalog/<int:pk>/<slug:name>/", views.catalog_transition, name="catalog_transition"),
    path("workspace/catalog/", views.catalog_manage, name="catalog_manage"),
    path("evaluations/<int:pk>/catalog/nominate/", views.catalog_nominate, name="catalog_nominate"),
]
