"""Walking Hospital pages (being built: see issue 3)."""

from django.shortcuts import get_object_or_404, render

from countycare.core.scoping import scoped
from countycare.telemed.models import ExamOrder, Visit


def visit_detail(request, pk):
    visit = get_object_or_404(scoped(request.user, Visit), pk=pk)
    return render(request, "telemed/visit.html", {"visit": visit})


def order_detail(request, pk):
    order = get_object_or_404(scoped(request.user, ExamOrder), pk=pk)
    return render(request, "telemed/order.html", {"order": order})
