from django.urls import path

from . import views

app_name = "compute"
urlpatterns = [
    path("", views.public, name="public"),
    path("pools/<int:pk>/", views.pool_detail, name="pool_detail"),
    path("programs/", views.program_list, name="program_list"),
    path("programs/new/", views.program_create, name="program_create"),
    path("programs/<int:pk>/", views.program_detail, name="program_detail"),
    path("programs/<int:pk>/edit/", views.program_edit, name="program_edit"),
    path("provider/", views.provider_home, name="provider"),
    path("provider/sites/new/", views.site_create, name="site_create"),
    path("provider/sites/<int:pk>/edit/", views.site_edit, name="site_edit"),
    path("provider/pools/new/", views.pool_create, name="pool_create"),
    path("provider/pools/<int:pk>/edit/", views.pool_edit, name="pool_edit"),
    path("workspace/", views.workspace, name="workspace"),
    path("workspace/applications/new/", views.application_create, name="application_create"),
    path("workspace/applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("workspace/applications/<int:pk>/edit/", views.application_edit, name="application_edit"),
    path("workspace/applications/<int:pk>/<slug:name>/", views.application_transition, name="application_transition"),
    path("workspace/vouchers/<int:pk>/", views.voucher_detail, name="voucher_detail"),
    path("workspace/jobs/", views.job_list, name="job_list"),
    path("workspace/jobs/new/", views.job_create, name="job_create"),
    path("workspace/jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("workspace/jobs/<int:pk>/status/", views.job_status, name="job_status"),
    path("workspace/jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("workspace/bills/", views.bill_list, name="bill_list"),
    path("workspace/bills/<int:pk>/", views.bill_detail, name="bill_detail"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/applications/", views.application_list, name="application_list"),
    path("review/applications/<int:pk>/", views.review_application, name="review_application"),
    path("review/applications/<int:pk>/<slug:name>/", views.review_transition, name="review_transition"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
