from django.urls import path

from . import views

app_name = "cadre"

urlpatterns = [
    path("", views.my_households, name="households"),
    path("households/<int:pk>/", views.household_plan, name="household"),
    path("households/<int:pk>/quote/", views.quote_preview, name="quote"),
    path("plans/<int:pk>/commitment.pdf", views.commitment_pdf, name="commitment_pdf"),
    path("plans/<int:pk>/commitment/", views.commitment_upload, name="commitment_upload"),
    path("batches/prepare/", views.prepare_batch, name="prepare_batch"),
    path("plans/<int:pk>/analysis/", views.analysis_save, name="analysis"),
]
