"""Background work of the Walking Hospital (Celery; eager in the embedded default).

Periodic in production (celery beat, see README): ``telemed.expire_leases`` every minute,
``telemed.escalate_critical_alerts`` every minute. Without beat the loop still holds: a
claim takes expired leases directly and the township sees overdue alerts as escalated."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="telemed.render_report_pdf", acks_late=True, max_retries=3)
def render_report_pdf(report_id: int) -> None:
    from countycare.telemed.reports import store_pdf

    store_pdf(report_id)


@shared_task(name="telemed.expire_leases")
def expire_leases() -> int:
    from countycare.telemed.services import expire_leases as run

    return run()


@shared_task(name="telemed.escalate_critical_alerts")
def escalate_critical_alerts() -> int:
    from countycare.telemed.critical import escalate_overdue

    return escalate_overdue()
