"""Background work of the indicators app (Celery; eager without a broker)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="indicators.recompute_stale")
def recompute_stale() -> int:
    """Recompute the stored values of closed periods whose data changed."""
    from countycare.indicators import services

    return services.recompute_stale()


@shared_task(name="indicators.materialise_closed")
def materialise_closed() -> int:
    """Store last month's, half-year's and year's values for the county and each township
    once they close (celery beat, daily)."""
    import datetime as dt

    from django.utils import timezone

    from countycare.indicators import selectors, services
    from countycare.indicators.periods import of_date

    yesterday = timezone.localdate() - dt.timedelta(days=1)
    count = 0
    for period in of_date(yesterday):
        if not period.is_closed():
            continue
        for institution in selectors.materialised_institutions():
            services.outcomes_for(institution, period)
            count += 1
    return count
