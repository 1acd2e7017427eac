from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("regulation/", views.regulation, name="regulation"),
    path("regulation/<int:number>/", views.article, name="article"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("notifications/", views.notifications, name="notifications"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("prefs/elder/", views.toggle_elder, name="toggle_elder"),
]
