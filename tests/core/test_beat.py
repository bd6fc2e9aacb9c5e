"""Every task celery beat is told to run exists (a typo in CELERY_BEAT_SCHEDULE would only
show in production, as a task nobody ever runs)."""

import importlib
import importlib.util

from django.apps import apps
from django.conf import settings

from countycare.celery import app


def test_every_scheduled_task_is_registered():
    for config in apps.get_app_configs():  # what app.autodiscover_tasks() imports
        if importlib.util.find_spec(f"{config.name}.tasks"):
            importlib.import_module(f"{config.name}.tasks")
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - set(app.tasks) == set()
    assert {"imaging.index_receipts", "familydoctor.expire_contracts"} <= scheduled
