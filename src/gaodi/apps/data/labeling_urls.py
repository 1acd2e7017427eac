"""URLs of the labeling tools, included under /data/labeling/ in the data namespace."""

from django.urls import path

from . import labeling_views as views

urlpatterns = [
    path("", views.home, name="labeling_home"),
    path("new/", views.project_create, name="labeling_create"),
    path("<int:pk>/", views.project_detail, name="labeling_project"),
    path("<int:pk>/edit/", views.project_edit, name="labeling_edit"),
    path("<int:pk>/annotators/", views.annotator_add, name="labeling_annotator_add"),
    path("<int:pk>/annotators/<int:user_id>/remove/", views.annotator_remove, name="labeling_annotator_remove"),
    path("<int:pk>/imports/new/", views.import_create, name="labeling_import"),
    path("<int:pk>/assign/", views.assign, name="labeling_assign"),
    path("<int:pk>/state/<slug:name>/", views.project_close, name="labeling_state"),
    path("<int:pk>/annotate/", views.annotate, name="labeling_annotate"),
    path("<int:pk>/review/", views.review_queue, name="labeling_review"),
    path("<int:pk>/agreement/", views.agreement, name="labeling_agreement"),
    path("<int:pk>/export/", views.export, name="labeling_export"),
    path("imports/<int:pk>/", views.import_status, name="labeling_import_status"),
    path("tasks/<int:pk>/", views.task_page, name="labeling_task"),
    path("tasks/<int:pk>/image/", views.task_image, name="labeling_task_image"),
    path("tasks/<int:pk>/review/", views.review_task, name="labeling_review_task"),
    path("resources/<int:pk>/images/new/", views.image_archive, name="labeling_image_archive"),
]
