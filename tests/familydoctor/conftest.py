"""Family-doctor fixtures: service packages, a team per township (the township doctor leads
township A's team with the village doctor of A1; the B1 village doctor is in township B's),
a tablet signature and a paper scan, and a helper to sign contracts."""

from __future__ import annotations

import base64
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from countycare.familydoctor import services
from countycare.familydoctor.models import ServicePackage, Team, TeamMember
from tests.factories import KeyPopulationTagFactory


def png_bytes(size=(300, 100)) -> bytes:
    image = Image.new("RGB", size, "white")
    for x in range(20, 280):
        image.putpixel((x, 50 + (x % 20) - 10), (0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def signature() -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes()).decode()


@pytest.fixture
def paper_scan():
    def make(name="contract.png", content=None):
        return SimpleUploadedFile(name, content or png_bytes((800, 1100)), "image/png")

    return make


@pytest.fixture
def packages(db) -> dict:
    return {
        "basic": ServicePackage.objects.create(
            code="BASIC", name="基础服务包", kind="basic", fee=Decimal("120.00"),
            resident_fee=Decimal("0"), items=["健康档案", "慢病随访", "健康咨询"],
        ),
        "hypertension": ServicePackage.objects.create(
            code="HTN", name="高血压管理包", kind="paid", fee=Decimal("60.00"),
            resident_fee=Decimal("60.00"), items=["每月血压测量"], target_populations=["hypertension"],
        ),
        "elderly": ServicePackage.objects.create(
            code="ELD", name="老年人健康包", kind="paid", fee=Decimal("80.00"),
            resident_fee=Decimal("40.00"), items=["上门服务"], target_populations=["elderly"],
        ),
    }  # fmt: skip


@pytest.fixture
def team_a(tree, township_doctor, village_doctor) -> Team:
    team = Team.objects.create(name="札萨克镇第一家庭医生团队", institution=tree.township_a)
    team.villages.set([tree.village_a1, tree.village_a2])
    TeamMember.objects.create(team=team, staff=township_doctor, function="gp", is_leader=True,
                              fee_weight=Decimal("2"))  # fmt: skip
    TeamMember.objects.create(team=team, staff=village_doctor, function="village_doctor")
    return team


@pytest.fixture
def team_b(tree, village_doctor_b1) -> Team:
    team = Team.objects.create(name="红庆河镇家庭医生团队", institution=tree.township_b)
    team.villages.set([tree.village_b1, tree.village_b2])
    TeamMember.objects.create(team=team, staff=village_doctor_b1, function="village_doctor",
                              is_leader=True)  # fmt: skip
    return team


@pytest.fixture
def hypertensive(residents):
    resident = residents["a1"]
    KeyPopulationTagFactory(resident=resident, tag="hypertension",
                            recorded_on=timezone.localdate() - dt.timedelta(days=400))  # fmt: skip
    return resident


@pytest.fixture
def sign(packages, signature):
    def make(actor, resident, team, *, start_on=None, extra=(), now=None, **kwargs):
        return services.sign_contract(
            actor, resident=resident.pk, team=team.pk,
            packages=[packages["basic"].pk, *[packages[k].pk for k in extra]],
            consent_method="tablet", consent=signature, start_on=start_on, now=now, **kwargs,
        )  # fmt: skip

    return make
