"""Permissions from role assignments: ``user.has_perm("countycare.register_resident")``."""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from countycare.organizations.roles import Perm
from countycare.organizations.selectors import permissions_of

APP_LABEL = "countycare"
# Master data in Django admin for roles with MANAGE_MASTER_DATA.
MASTER_DATA_MODELS = (
    "organizations.institution",
    "organizations.staff",
    "organizations.roleassignment",
    "organizations.policyvalue",
)
_ATTR = "_countycare_perm_cache"


class RoleBackend(BaseBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        cached = getattr(user_obj, _ATTR, None)
        if cached is None:
            codes = permissions_of(user_obj)
            cached = {f"{APP_LABEL}.{code}" for code in codes}
            if Perm.MANAGE_MASTER_DATA in codes:
                for label in MASTER_DATA_MODELS:
                    app, model = label.split(".")
                    cached |= {f"{app}.{verb}_{model}" for verb in ("view", "add", "change")}
            setattr(user_obj, _ATTR, cached)
        return cached

    def has_perm(self, user_obj, perm, obj=None):
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label):
        return any(p.startswith(app_label + ".") for p in self.get_all_permissions(user_obj))
