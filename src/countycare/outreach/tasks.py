"""Background work of outreach (Celery; eager in the embedded default)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="outreach.solve_siting_run", acks_late=True)
def solve_siting_run(run_id: int) -> str:
    """Solve a queued siting run (OUT-01); the outcome, or its error, is stored on the run."""
    from countycare.outreach.models import RunStatus, SitingRun
    from countycare.outreach.siting_services import execute_run

    run = SitingRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).first()
    if run is None:
        return "gone"
    return execute_run(run).status
