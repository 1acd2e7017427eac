from django.urls import include, path

from . import views

app_name = "algorithms"
urlpatterns = [
    path("", include("gaodi.apps.algorithms.evaluation_urls")),
    path("", include("gaodi.apps.algorithms.catalog_urls")),
    path("filings/", views.filing_list, name="filing_list"),
    path("filings/<int:pk>/", views.filing_detail, name="filing_detail"),
    path("disclosures/", views.batch_list, name="batch_list"),
    path("disclosures/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("disclosures/publish/", views.batch_publish, name="batch_publish"),
    path("workspace/filings/", views.workspace, name="workspace"),
    path("workspace/filings/new/", views.filing_create, name="filing_create"),
    path("workspace/filings/<int:pk>/", views.workspace_detail, name="workspace_detail"),
    path("workspace/filings/<int:pk>/edit/", views.filing_edit, name="filing_edit"),
    path("workspace/filings/<int:pk>/report/", views.report_download, name="report_download"),
    path("workspace/filings/<int:pk>/<slug:name>/", views.owner_transition, name="owner_transition"),
    path("review/filings/", views.review_queue, name="review_queue"),
    path("review/filings/<int:pk>/", views.review_detail, name="review_detail"),
    path("review/filings/<int:pk>/report/", views.report_download, name="review_report"),
    path("review/filings/<int:pk>/<slug:name>/", views.review_transition, name="review_transition"),
]
