from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("xlsx/", views.download, name="xlsx"),
    path("refresh/", views.refresh, name="refresh"),
]
