from django.urls import include, path

from . import products_views, views

app_name = "data"
urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("datasets/new/", views.dataset_create, name="dataset_create"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset_detail"),
    path("datasets/<int:pk>/edit/", views.dataset_edit, name="dataset_edit"),
    path("datasets/<int:pk>/resources/new/", views.resource_create, name="resource_create"),
    path("datasets/<int:pk>/grading/", views.grading_decide, name="grading_decide"),
    path("datasets/<int:pk>/apply/", views.apply, name="apply"),
    path("resources/<int:pk>/versions/new/", views.version_create, name="version_create"),
    path("resources/<int:pk>/download/", views.resource_download, name="resource_download"),
    path("versions/<int:pk>/quality/retry/", views.quality_retry, name="quality_retry"),
    path("statistics/", views.statistics, name="statistics"),
    path("fairness/", views.fairness, name="fairness"),
    path("open-lists/", views.open_lists, name="open_lists"),
    path("open-lists/manage/", views.open_list_manage, name="open_list_manage"),
    path("open-lists/<int:department>/", views.open_list_history, name="open_list_history"),
    path("access/", views.my_access, name="my_access"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("applications/<int:pk>/<slug:name>/", views.application_transition, name="application_transition"),
    path("review/", views.review_queue, name="review_queue"),
    path("grants/<int:pk>/resources/<int:resource>/download/", views.grant_download, name="grant_download"),
    path("grants/<int:pk>/revoke/", views.grant_revoke, name="grant_revoke"),
    path("products/", products_views.product_list, name="product_list"),
    path("products/new/", products_views.product_create, name="product_create"),
    path("products/mine/", products_views.products_mine, name="products_mine"),
    path("products/<int:pk>/", products_views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit/", products_views.product_edit, name="product_edit"),
    path("products/<int:pk>/compliance-file/", products_views.product_file, name="product_file"),
    path("products/<int:pk>/<slug:name>/", products_views.product_transition, name="product_transition"),
]
urlpatterns.append(path("labeling/", include("gaodi.apps.data.labeling_urls")))  # labeling tools (Art. 16)
