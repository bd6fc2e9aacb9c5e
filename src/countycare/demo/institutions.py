"""The institution tree of the demo county: county → medical community → hospitals, CDC,
township health centers (with village clinics and elderly-care institutions) and community
health centers (with stations)."""

from __future__ import annotations

import math
import random
from decimal import Decimal

from countycare.demo import data
from countycare.demo.plan import InstitutionPlan

COUNTY_CODE = data.COUNTY_DIVISION
COMMUNITY_CODE = f"{data.COUNTY_DIVISION}-YGT"
BULIAN_CODE = f"{data.COUNTY_DIVISION}-T08"
# 布连 lies east of the 乌兰木伦 town seat, by the 补连塔 mine.
BULIAN_SITE = (39.37, 110.17)
# Margin inside the bounding box so rounding never pushes a point out of it.
_MARGIN = 0.01


def _coordinate(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low + _MARGIN), high - _MARGIN)


def _point(rng: random.Random, lat: float, lon: float, spread: float) -> tuple[Decimal, Decimal]:
    """A point scattered around (lat, lon) — villages cluster around their town seat."""
    la = _clamp(rng.gauss(lat, spread), data.LAT_MIN, data.LAT_MAX)
    lo = _clamp(rng.gauss(lon, spread * 1.3), data.LON_MIN, data.LON_MAX)
    return _coordinate(la), _coordinate(lo)


def _phone(rng: random.Random) -> str:
    return f"0477-{rng.randrange(8500000, 8999999)}"


def _village_population(rng: random.Random) -> tuple[int, int]:
    """Served and agricultural/pastoral population of a village: log-normal, median ≈ 720,
    from a few hundred to ~3,000 (138 villages ≈ 110,000 rural residents)."""
    served = int(rng.lognormvariate(math.log(720), 0.55))
    served = min(max(served, 180), 3200)
    agricultural = int(served * rng.uniform(0.86, 0.97))
    return served, agricultural


def build_institutions(rng: random.Random) -> list[InstitutionPlan]:
    """All institutions, parents before children."""
    seat_lat, seat_lon = data.HOSPITAL_SITE
    out: list[InstitutionPlan] = [
        InstitutionPlan(
            code=COUNTY_CODE,
            name=data.COUNTY_NAME,
            short_name="伊旗",
            type="county",
            parent_code=None,
            area_name=data.COUNTY_NAME,
            latitude=_coordinate(seat_lat),
            longitude=_coordinate(seat_lon),
        ),
        InstitutionPlan(
            code=COMMUNITY_CODE,
            name=data.COMMUNITY_NAME,
            short_name="医共体",
            type="medical_community",
            parent_code=COUNTY_CODE,
            area_name=data.COUNTY_NAME,
            latitude=_coordinate(seat_lat),
            longitude=_coordinate(seat_lon),
            address="伊金霍洛旗阿勒腾席热镇",
        ),
    ]
    for hospital in data.HOSPITALS:
        lat, lon = _point(rng, seat_lat, seat_lon, 0.006)
        out.append(
            InstitutionPlan(
                code=f"{COUNTY_CODE}-{hospital.key}",
                name=hospital.name,
                short_name=hospital.short_name,
                type=hospital.type,
                parent_code=COMMUNITY_CODE,
                area_name="阿勒腾席热镇",
                is_lead_hospital=hospital.is_lead,
                latitude=lat,
                longitude=lon,
                address=f"伊金霍洛旗阿勒腾席热镇{hospital.short_name}",
                phone=_phone(rng),
            )
        )

    for town in data.TOWNS:
        center_code = f"{COUNTY_CODE}-{town.key}"
        villages: list[InstitutionPlan] = []
        bulian: list[InstitutionPlan] = []
        for village in town.villages:
            served, agricultural = _village_population(rng)
            serving = BULIAN_CODE if village in data.BULIAN_VILLAGES else center_code
            index = len(bulian if serving == BULIAN_CODE else villages) + 1
            site = BULIAN_SITE if serving == BULIAN_CODE else (town.lat, town.lon)
            lat, lon = _point(rng, site[0], site[1], 0.05)
            kind = "嘎查" if village.endswith("嘎查") else "村"
            plan = InstitutionPlan(
                code=f"{serving}-V{index:03d}",
                name=f"{village}卫生室",
                short_name=village,
                type="village_clinic",
                parent_code=serving,
                area_name=village,
                capability_standard="village",
                latitude=lat,
                longitude=lon,
                served_population=served,
                agricultural_population=agricultural,
                address=f"{town.name}{village}{kind}委员会",
            )
            (bulian if serving == BULIAN_CODE else villages).append(plan)
        out.append(
            InstitutionPlan(
                code=center_code,
                name=town.center_name,
                short_name=town.name.removesuffix("镇")
                + ("中心卫生院" if town.is_central else "卫生院"),
                type="township_health_center",
                parent_code=COMMUNITY_CODE,
                area_name=town.name,
                is_central=town.is_central,
                is_sub_center=town.is_sub_center,
                capability_standard=town.standard,
                latitude=_coordinate(town.lat),
                longitude=_coordinate(town.lon),
                served_population=sum(v.served_population for v in villages),
                agricultural_population=sum(v.agricultural_population for v in villages),
                address=f"伊金霍洛旗{town.name}",
                phone=_phone(rng),
            )
        )
        out.extend(villages)
        if bulian:
            out.append(
                InstitutionPlan(
                    code=BULIAN_CODE,
                    name=data.BULIAN_CENTER,
                    short_name="布连卫生院",
                    type="township_health_center",
                    parent_code=COMMUNITY_CODE,
                    area_name=f"{town.name}布连片区",
                    capability_standard="basic",
                    latitude=_coordinate(BULIAN_SITE[0]),
                    longitude=_coordinate(BULIAN_SITE[1]),
                    served_population=sum(v.served_population for v in bulian),
                    agricultural_population=sum(v.agricultural_population for v in bulian),
                    address=f"伊金霍洛旗{town.name}布连",
                    phone=_phone(rng),
                )
            )
            out.extend(bulian)
        for number, (town_key, name, beds) in enumerate(
            (e for e in data.ELDERLY_CARE if e[0] == town.key), start=1
        ):
            lat, lon = _point(rng, town.lat, town.lon, 0.01)
            out.append(
                InstitutionPlan(
                    code=f"{COUNTY_CODE}-{town_key}-E{number:02d}",
                    name=name,
                    type="elderly_care_institution",
                    parent_code=center_code,
                    area_name=town.name,
                    latitude=lat,
                    longitude=lon,
                    served_population=beds,
                    address=f"伊金霍洛旗{town.name}",
                    phone=_phone(rng),
                )
            )

    for center in data.COMMUNITY_CENTERS:
        code = f"{COUNTY_CODE}-{center.key}"
        stations = []
        for number, station in enumerate(center.stations, start=1):
            lat, lon = _point(rng, seat_lat, seat_lon, 0.012)
            stations.append(
                InstitutionPlan(
                    code=f"{code}-S{number:02d}",
                    name=f"伊金霍洛旗{station}",
                    short_name=station,
                    type="community_health_station",
                    parent_code=code,
                    area_name=station.removesuffix("卫生服务站"),
                    latitude=lat,
                    longitude=lon,
                    served_population=rng.randrange(8000, 15000),
                    address=f"伊金霍洛旗阿勒腾席热镇{station.removesuffix('卫生服务站')}",
                    phone=_phone(rng),
                )
            )
        lat, lon = _point(rng, seat_lat, seat_lon, 0.012)
        own = rng.randrange(12000, 20000)
        out.append(
            InstitutionPlan(
                code=code,
                name=center.name,
                short_name=center.area,
                type="community_health_center",
                parent_code=COMMUNITY_CODE,
                area_name=center.area,
                capability_standard=center.standard,
                latitude=lat,
                longitude=lon,
                # The center's catchment includes its stations' (STD-06: 30,000–50,000).
                served_population=own + sum(s.served_population for s in stations),
                address=f"伊金霍洛旗阿勒腾席热镇{center.area}",
                phone=_phone(rng),
            )
        )
        out.extend(stations)
    return out


def residence_weights(institutions: list[InstitutionPlan]) -> list[tuple[InstitutionPlan, int]]:
    """Where residents live and how many each place holds: villages by served population,
    community stations by theirs, a community center by what its stations do not cover."""
    station_total: dict[str, int] = {}
    for inst in institutions:
        if inst.type == "community_health_station":
            station_total[inst.parent_code or ""] = (
                station_total.get(inst.parent_code or "", 0) + inst.served_population
            )
    out = []
    for inst in institutions:
        if inst.type in ("village_clinic", "community_health_station"):
            out.append((inst, inst.served_population))
        elif inst.type == "community_health_center":
            out.append((inst, inst.served_population - station_total.get(inst.code, 0)))
    return out
