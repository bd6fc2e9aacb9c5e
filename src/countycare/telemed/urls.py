from django.urls import include, path

from countycare.telemed import views

app_name = "telemed"

urlpatterns = [
    # The village side (WH-02, WH-03).
    path("visits/new/<int:resident>/", views.visit_new, name="visit-new"),
    path("visits/<int:pk>/", views.visit_detail, name="visit"),
    path("visits/<int:pk>/order/", views.order_new, name="order-new"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/files/", views.order_upload, name="order-upload"),
    path("orders/<int:pk>/submit/", views.order_submit, name="order-submit"),
    path("orders/<int:pk>/resubmit/", views.order_resubmit, name="order-resubmit"),
    path("orders/<int:pk>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<int:pk>/acknowledge/", views.order_acknowledge, name="order-acknowledge"),
    path("files/<int:pk>/", views.attachment_file, name="attachment"),
    path("reports/<int:pk>/pdf/", views.report_pdf, name="report-pdf"),
    # The reader side (SHC-01/02).
    path("worklist/", views.worklist_home, name="worklist-home"),
    path("worklist/<int:center>/", views.worklist, name="worklist"),
    path("worklist/<int:center>/claim-next/", views.claim_next, name="claim-next"),
    path("orders/<int:pk>/claim/", views.claim, name="claim"),
    path("orders/<int:pk>/read/", views.read, name="read"),
    path("orders/<int:pk>/report/", views.report_save, name="report-save"),
    path("orders/<int:pk>/amend/", views.report_amend, name="report-amend"),
    path("orders/<int:pk>/return/", views.order_return, name="order-return"),
    path("orders/<int:pk>/release/", views.order_release, name="order-release"),
    # Critical values.
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    # Turnaround-time dashboard (name "tat") and pay statements (name "pay"): stats_urls.py.
    path("stats/", include("countycare.telemed.stats_urls")),
]
