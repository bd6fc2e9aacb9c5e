"""Roles and what each may do. A role is held at an institution (RoleAssignment); the
permissions below are checked with ``user.has_perm("countycare.<code>")`` through
``organizations.backends.RoleBackend``; which rows a role sees is decided by scoping."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VILLAGE_DOCTOR = "village_doctor", _("Village doctor")
    TOWNSHIP_DOCTOR = "township_doctor", _("Township doctor")
    NURSE = "nurse", _("Nurse")
    CENTER_READER = "center_reader", _("Center reader")
    SPECIALIST = "specialist", _("Specialist")
    PHARMACIST = "pharmacist", _("Pharmacist")
    PUBLIC_HEALTH_OFFICER = "public_health_officer", _("Public-health officer")
    INSTITUTION_ADMIN = "institution_admin", _("Institution admin")
    COMMUNITY_ADMIN = "community_admin", _("Community office admin")
    HEALTH_COMMISSION_VIEWER = "health_commission_viewer", _("Health-commission viewer")
    SYSTEM_ADMIN = "system_admin", _("System admin")


class Perm:
    """Permission codes (used as ``countycare.<code>``)."""

    VIEW_RESIDENT = "view_resident"
    REGISTER_RESIDENT = "register_resident"
    CHANGE_RESIDENT = "change_resident"
    TAG_RESIDENT = "tag_resident"
    VIEW_NATIONAL_ID = "view_national_id"
    EXPORT_RESIDENTS = "export_residents"
    VIEW_AUDIT = "view_audit"
    VIEW_AGGREGATES = "view_aggregates"
    MANAGE_MASTER_DATA = "manage_master_data"
    # Walking Hospital (telemed)
    RECORD_VISIT = "record_visit"  # open a visit, record what the kit measured
    REQUEST_EXAM = "request_exam"  # send an exam order to a shared center, acknowledge reports
    READ_EXAM = "read_exam"  # claim from a center's worklist, write and sign reports
    ACK_CRITICAL = "ack_critical"  # acknowledge a critical-value alert
    # Imaging
    RECONCILE_STUDIES = (
        "reconcile_studies"  # link an unmatched DICOM study to an order, or reject it
    )
    # Lab
    ENTER_RESULTS = (
        "enter_results"  # type in results of devices without HL7 (glucose meters, strips)
    )
    MANAGE_INTERFACES = "manage_interfaces"  # dead-letter messages, analyzer code tables, AE titles
    # Referrals
    REFER = "refer"  # refer a resident up or out, book appointments on a resident's behalf
    RECEIVE_REFERRAL = "receive_referral"  # accept/decline, arrival, discharge, refer down
    MANAGE_SCHEDULES = "manage_schedules"  # specialist schedules and slots, disease catalogs
    # Family doctor
    SIGN_CONTRACT = "sign_contract"  # sign, renew, terminate family-doctor contracts
    FOLLOW_UP = "follow_up"  # chronic-disease follow-ups and health checks
    MANAGE_TEAMS = "manage_teams"  # family-doctor teams, service packages, fee shares
    # Outreach
    PLAN_OUTREACH = "plan_outreach"  # site circuit points, plan circuits and dispatches
    RECORD_OUTREACH = "record_outreach"  # check in a circuit visit or a dispatched day


_CLINICAL = {Perm.VIEW_RESIDENT, Perm.REGISTER_RESIDENT, Perm.CHANGE_RESIDENT, Perm.TAG_RESIDENT}
_REQUESTER = {Perm.RECORD_VISIT, Perm.REQUEST_EXAM, Perm.ACK_CRITICAL}
# What a village or township doctor does beyond the Walking Hospital.
_PRIMARY_CARE = {
    Perm.ENTER_RESULTS,
    Perm.REFER,
    Perm.SIGN_CONTRACT,
    Perm.FOLLOW_UP,
    Perm.RECORD_OUTREACH,
}
# What an institution's or the community office's admin manages.
_MANAGER = {
    Perm.MANAGE_INTERFACES,
    Perm.MANAGE_SCHEDULES,
    Perm.MANAGE_TEAMS,
    Perm.RECONCILE_STUDIES,
    Perm.PLAN_OUTREACH,
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VILLAGE_DOCTOR: frozenset(_CLINICAL | _REQUESTER | _PRIMARY_CARE),
    # Township doctors also receive referrals (down from the county, up from villages).
    Role.TOWNSHIP_DOCTOR: frozenset(
        _CLINICAL | _REQUESTER | _PRIMARY_CARE | {Perm.RECEIVE_REFERRAL}
    ),
    Role.NURSE: frozenset(
        {
            Perm.VIEW_RESIDENT,
            Perm.REGISTER_RESIDENT,
            Perm.TAG_RESIDENT,
            Perm.RECORD_VISIT,
            Perm.ENTER_RESULTS,
            Perm.SIGN_CONTRACT,
            Perm.FOLLOW_UP,
            Perm.RECORD_OUTREACH,
        }
    ),
    Role.CENTER_READER: frozenset({Perm.VIEW_RESIDENT, Perm.READ_EXAM, Perm.RECONCILE_STUDIES}),
    # Specialists read remote consultations (the remote outpatient center), receive referrals,
    # refer down and serve on circuits and dispatches.
    Role.SPECIALIST: frozenset(
        {
            Perm.VIEW_RESIDENT,
            Perm.TAG_RESIDENT,
            Perm.READ_EXAM,
            Perm.REFER,
            Perm.RECEIVE_REFERRAL,
            Perm.FOLLOW_UP,
            Perm.RECORD_OUTREACH,
        }
    ),
    Role.PHARMACIST: frozenset({Perm.VIEW_RESIDENT}),
    Role.PUBLIC_HEALTH_OFFICER: frozenset(
        _CLINICAL
        | {
            Perm.RECORD_VISIT,
            Perm.VIEW_NATIONAL_ID,
            Perm.EXPORT_RESIDENTS,
            Perm.VIEW_AGGREGATES,
            Perm.SIGN_CONTRACT,
            Perm.FOLLOW_UP,
            Perm.RECORD_OUTREACH,
        }
    ),
    Role.INSTITUTION_ADMIN: frozenset(
        _CLINICAL
        | _MANAGER
        | {
            Perm.RECEIVE_REFERRAL,
            Perm.ACK_CRITICAL,
            Perm.VIEW_NATIONAL_ID,
            Perm.EXPORT_RESIDENTS,
            Perm.VIEW_AUDIT,
            Perm.VIEW_AGGREGATES,
        }
    ),
    Role.COMMUNITY_ADMIN: frozenset(
        _CLINICAL
        | _MANAGER
        | {
            Perm.VIEW_NATIONAL_ID,
            Perm.EXPORT_RESIDENTS,
            Perm.VIEW_AUDIT,
            Perm.VIEW_AGGREGATES,
            Perm.MANAGE_MASTER_DATA,
        }
    ),
    # Aggregates only: no resident rows at all.
    Role.HEALTH_COMMISSION_VIEWER: frozenset({Perm.VIEW_AGGREGATES}),
    Role.SYSTEM_ADMIN: frozenset(
        {Perm.VIEW_AUDIT, Perm.VIEW_AGGREGATES, Perm.MANAGE_MASTER_DATA, Perm.MANAGE_INTERFACES}
    ),
}

# Roles whose holders see every row of the county, wherever the role is held.
COUNTY_WIDE_ROLES = frozenset({Role.COMMUNITY_ADMIN})
# Roles that see resident and clinical rows in the subtree of their institution.
ROLES_SEEING_RECORDS = frozenset(
    role for role, perms in ROLE_PERMISSIONS.items() if Perm.VIEW_RESIDENT in perms
)
# Roles allowed into Django admin (master data; never resident rows, see residents/admin.py).
STAFF_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.COMMUNITY_ADMIN, Role.INSTITUTION_ADMIN})
