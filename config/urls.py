from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from disbursements import public
from households import files

admin.site.site_header = "香格里拉市精准扶贫特色产业扶持管理系统"
admin.site.site_title = "产业扶持管理"
admin.site.index_title = "工作台"

urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    path("cadre/", include("subsidies.urls")),
    path("dashboard/", include("disbursements.urls")),
    # The public page of an issued 公示 (the QR code on the sheet): no login (disbursements/public.py).
    path("gs/", public.notice_lookup, name="public_notice_lookup"),
    path("gs/<str:code>/", public.notice_page, name="public_notice"),
    # Uploaded scans and photos: scoped, never from MEDIA_URL (households/files.py).
    path("files/<str:app_label>/<str:model_name>/<int:pk>/<str:field>/", files.download, name="file"),
]
