"""Main-navigation entries of the lab (core.home)."""

from django.utils.translation import gettext_lazy as _

from countycare.core import home

home.nav_item("lab.turnaround", url="lab:turnaround", label=_("Lab turnaround"),
              perm="countycare.view_aggregates", order=81)  # fmt: skip
