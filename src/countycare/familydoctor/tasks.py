"""Background work of the family-doctor app (Celery; eager in the embedded default).

Daily in production (celery beat): ``familydoctor.expire_contracts`` moves contracts past
their end to *expired*. Without beat nothing is wrong: coverage, due lists and signing read the
contracts' dates, and signing or renewing expires a lapsed contract first."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="familydoctor.expire_contracts")
def expire_contracts() -> int:
    from countycare.familydoctor.services import expire_contracts as run

    return run()
