from django.http import HttpResponse


def home(request):  # replaced by the web UI work
    return HttpResponse("CountyCare")


def audit_log(request):
    return HttpResponse("audit")


def healthz(request):
    return HttpResponse("ok")
