from django.urls import path

from . import evaluation_views as views

urlpatterns = [
    path("workspace/filings/<int:pk>/evaluations/new/", views.evaluation_create, name="evaluation_create"),
    path("evaluations/", views.evaluation_list, name="evaluation_list"),
    path("evaluations/<int:pk>/", views.evaluation_detail, name="evaluation_detail"),
    path("evaluations/<int:pk>/progress/", views.evaluation_progress, name="evaluation_progress"),
    path("evaluations/<int:pk>/files/<slug:kind>/", views.evaluation_file, name="evaluation_file"),
    path("evaluations/<int:pk>/approve-types/", views.evaluation_approve_types, name="evaluation_approve_types"),
    path("evaluations/<int:pk>/endpoint-credential/", views.evaluation_endpoint_credential,
         name="evaluation_endpoint_credential"),
    path("evaluations/<int:pk>/<slug:name>/", views.evaluation_transition, name="evaluation_transition"),
    path("verify/public-key.pem", views.public_key, name="signing_public_key"),
    path("verify/<str:certificate_id>/", views.certificate_verify, name="certificate_verify"),
    path("verify/<str:certificate_id>/certificate/", views.certificate_view, name="certificate_view"),
    path("verify/<str:certificate_id>/certificate.json", views.certificate_json, name="certificate_json"),
    path("verify/<str:certificate_id>/certificate.pdf", views.certificate_pdf, name="certificate_pdf"),
]
