"""Celery application. Without CELERY_BROKER_URL tasks run eagerly in the calling process;
with a Redis or RabbitMQ URL they go to ``countycare worker`` processes."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countycare.settings")

app = Celery("countycare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
