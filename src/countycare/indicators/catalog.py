"""The indicators, each declared once (issue 9; KPI-, FD-, SHC-, WH-, OUT-, STD- rules).

The national monitoring set for tight county medical communities (004 §3(三)6, 国卫办基层发
〔2020〕12号) as far as the platform holds the data, and the seeds' own indicators. Visit and
insurance figures come from the encounters (clinical app: HIS exports, insurance settlement
data), else from imported monthly statistics (``imports.py``), which also carry the bed-days,
satisfaction surveys and new techniques the platform holds no rows for; referral, contract and
circuit figures come from the apps that own them — a way whose app does not yet expose its
figures is declared *pending*."""

from __future__ import annotations

from countycare.indicators import sources as s
from countycare.indicators.models import Metric as M
from countycare.indicators.registry import (
    LOWER,
    TOWNSHIPS,
    WHOLE,
    Ctx,
    Indicator,
    Source,
    Target,
    Way,
    declare,
    group,
)
from countycare.organizations import policy
from countycare.organizations.models import GRASSROOTS_TYPES, InstitutionType

T = InstitutionType
# Raise when a definition changes (a way, a source, a measure): stored values of closed
# periods computed under another version are recomputed when next read.
VERSION = 2
NATIONAL = group("national", "国家监测指标", "National monitoring indicators")
FAMILY = group("family_doctor", "家庭医生签约", "Family-doctor contracts")
WALKING = group("walking_hospital", "行走的医院与共享中心", "Walking Hospital and shared centers")
WORKFORCE = group("workforce", "人才队伍与机构标准", "Workforce and facility standards")
OUTREACH = group("outreach", "巡诊与派驻", "Circuit visits and dispatch")

TELEMED = Source(
    "telemed", "行走的医院", "Walking Hospital", has_data=s.any_rows("telemed.Visit", "visited_at")
)
ORDERS = Source(
    "telemed",
    "远程检查申请",
    "exam orders",
    has_data=s.any_rows("telemed.ExamOrder", "submitted_at"),
)
ALERTS = Source(
    "telemed",
    "危急值",
    "critical values",
    has_data=s.any_rows("telemed.CriticalAlert", "raised_at"),
)
LAB = Source(
    "lab",
    "检验结果（HL7）",
    "lab results (HL7)",
    has_data=s.any_rows("lab.LabResult", "arrived_at"),
)
RESIDENTS = Source(
    "residents", "居民档案", "resident registry", has_data=s.any_rows("residents.Resident")
)
STAFF = Source("organizations", "机构与人员", "institutions and staff")
EQUIPMENT = Source(
    "organizations",
    "设备登记",
    "equipment register",
    has_data=s.any_rows("organizations.Equipment"),
)
REFERRALS = Source(
    "referrals",
    "双向转诊",
    "two-way referral",
    has_data=s.any_rows("referrals.Referral", "requested_at"),
)
CONTRACTS = Source(
    "familydoctor",
    "家庭医生签约",
    "family-doctor contracts",
    has_data=s.any_rows("familydoctor.Contract"),
)
POINTS = Source(
    "outreach",
    "巡回医疗服务点",
    "circuit service points",
    has_data=s.any_rows("outreach.CircuitVisit", "date"),
)
CIRCUITS = Source(
    "outreach", "巡诊", "circuit visits", has_data=s.any_rows("outreach.CircuitVisit", "date")
)
DISPATCH = Source(
    "outreach", "派驻", "dispatch", has_data=s.any_rows("outreach.Dispatch", "start", until="end")
)
# Encounters (clinical app): HIS exports for the visits in the county, the insurance
# settlement data for those outside it. Tried before the imported monthly statistics.
ENCOUNTERS = s.encounter_source("就诊记录（HIS/医保结算）", "encounters (HIS / insurance settlement)",
                                needs="visits")  # fmt: skip
RESIDENT_ENCOUNTERS = s.encounter_source(
    "居民就诊记录（含医保结算的县域外就诊）",
    "residents' encounters (with out-of-county visits from insurance settlement)",
    needs="residents_visits",
    county_wide="out_of_county",
)
OUTPATIENT_ENCOUNTERS = s.encounter_source(
    "门急诊就诊记录", "outpatient and emergency encounters", needs="outpatient"
)
GRASSROOTS_OUTPATIENT_ENCOUNTERS = s.encounter_source(
    "基层门急诊就诊记录", "grassroots outpatient encounters", needs="grassroots_outpatient"
)
FUND_ENCOUNTERS = s.encounter_source(
    "就诊记录的医保基金支付", "insurance fund paid per encounter", needs="fund_rows"
)
REFERRAL_FIGURES = s.app_figures("countycare.referrals.selectors", "figures")
OUTREACH_FIGURES = s.app_figures("countycare.outreach.compliance", "figures")
CONTRACT_FIGURES = s.app_figures("countycare.familydoctor.selectors", "figures")
LAB_FIGURES = s.app_figures("countycare.lab.selectors", "figures", dates="datetimes")
COUNTY_HOSPITALS = (
    T.GENERAL_HOSPITAL,
    T.MONGOLIAN_MEDICINE_HOSPITAL,
    T.TCM_HOSPITAL,
    T.MCH_HOSPITAL,
)
ALL_VISITS = (M.OUTPATIENT_VISITS, M.INPATIENT_ADMISSIONS)
# fmt: off

# --- National monitoring set and the county's headline targets (KPI-01, KPI-02, KPI-04) ------
declare(Indicator(
    "in_county_visit_rate", "县域内就诊率", "In-county visit rate", "KPI-01",
    ways=(Way(
        (RESIDENT_ENCOUNTERS,),
        numerator=s.encounters("residents_in_county"),
        denominator=s.encounters("residents_visits"),
        rows=s.encounter_rows("of"),
    ), Way(
        (s.imported(M.OUTPATIENT_VISITS, M.OUT_OF_COUNTY_VISITS),),
        numerator=s.stat(*ALL_VISITS),
        denominator=s.stat(*ALL_VISITS, M.OUT_OF_COUNTY_VISITS),
        rows=s.stat_rows(*ALL_VISITS, M.OUT_OF_COUNTY_VISITS),
    ),),
    unit="%", group=NATIONAL, target=Target({"2025": 90}, "KPI-01"),
    levels=(*WHOLE, *TOWNSHIPS), weight=2, order=10,
    note_zh="县域居民在县域内医疗机构的门急诊与住院人次 ÷ 县域居民全部就诊人次（县域内 + 县域外）；"
            "按就诊当日的居住地归属",
    note_en="The residents' outpatient and inpatient visits in the county ÷ all their visits (in and "
            "out of the county), by where they lived on the day",
))
declare(Indicator(
    "grassroots_visit_rate", "县域内基层就诊率", "Grassroots visit rate", "KPI-01",
    ways=(Way(
        (ENCOUNTERS,),
        numerator=s.encounters("grassroots_visits"),
        denominator=s.encounters("visits"),
        rows=s.encounter_rows("at", grassroots=True),
    ), Way(
        (s.imported(M.OUTPATIENT_VISITS),),
        numerator=s.stat(*ALL_VISITS, types=GRASSROOTS_TYPES),
        denominator=s.stat(*ALL_VISITS),
        rows=s.stat_rows(*ALL_VISITS),
    ),),
    unit="%", group=NATIONAL, target=Target({"2025": 65}, "KPI-01"),
    levels=WHOLE, weight=2, order=20,
    note_zh="基层医疗卫生机构（按就诊当日的机构类别）就诊人次 ÷ 县域内就诊总人次",
    note_en="Visits at grassroots institutions (by their level on the day) ÷ all visits in the county",
))
declare(Indicator(
    "grassroots_outpatient_share", "基层医疗卫生机构门急诊占比",
    "Grassroots share of outpatient and emergency visits", "KPI-02",
    ways=(Way(
        (OUTPATIENT_ENCOUNTERS,),
        numerator=s.encounters("grassroots_outpatient"),
        denominator=s.encounters("outpatient"),
        rows=s.encounter_rows("at", grassroots=True, outpatient=True),
    ), Way(
        (s.imported(M.OUTPATIENT_VISITS),),
        numerator=s.stat(M.OUTPATIENT_VISITS, types=GRASSROOTS_TYPES),
        denominator=s.stat(M.OUTPATIENT_VISITS),
        rows=s.stat_rows(M.OUTPATIENT_VISITS),
    ),),
    unit="%", group=NATIONAL, levels=WHOLE, order=30,
    note_zh="基层医疗卫生机构（按就诊当日的机构类别）门急诊人次 ÷ 县域内门急诊总人次",
    note_en="Outpatient and emergency visits at grassroots institutions (by their level on the day) ÷ all in the county",
))
declare(Indicator(
    "downward_referral_share", "牵头医院下转患者数量占比", "Lead-hospital downward-referral share",
    "KPI-02",
    ways=(
        Way((REFERRALS,), numerator=s.figure(REFERRAL_FIGURES, "lead_downward"),
            denominator=s.figure(REFERRAL_FIGURES, "lead_downward", "lead_upward_received")),
        Way((s.imported(M.DOWNWARD_REFERRALS),),
            numerator=s.stat(M.DOWNWARD_REFERRALS, types=COUNTY_HOSPITALS),
            denominator=s.stat(M.DOWNWARD_REFERRALS, M.UPWARD_REFERRALS, types=COUNTY_HOSPITALS),
            rows=s.stat_rows(M.DOWNWARD_REFERRALS, M.UPWARD_REFERRALS, types=COUNTY_HOSPITALS)),
    ),
    unit="%", group=NATIONAL, levels=(*WHOLE, *COUNTY_HOSPITALS), order=40,
    note_zh="牵头医院下转人次 ÷ 牵头医院上转与下转人次之和",
    note_en="Referrals down from the county hospitals ÷ referrals up to and down from them",
))
declare(Indicator(
    "out_of_county_referral_share", "县域外转诊占比", "Out-of-county share of referrals", "REF-02",
    ways=(Way((REFERRALS,), numerator=s.figure(REFERRAL_FIGURES, "out_of_county"),
              denominator=s.figure(REFERRAL_FIGURES, "out_of_county", "upward")),),
    unit="%", group=NATIONAL, direction=LOWER, levels=(*WHOLE, *TOWNSHIPS), order=45,
    note_zh="转往县域外的人次 ÷（上转 + 县域外转诊人次）",
    note_en="Referrals out of the county ÷ (upward + out-of-county referrals)",
))
declare(Indicator(
    "new_techniques", "牵头医院帮助基层开展新技术新项目数量",
    "New techniques and projects started at grassroots with lead-hospital help", "KPI-02",
    ways=(Way((s.imported(M.NEW_TECHNIQUES),), numerator=s.stat(M.NEW_TECHNIQUES, types=GRASSROOTS_TYPES),
              rows=s.stat_rows(M.NEW_TECHNIQUES, types=GRASSROOTS_TYPES)),),
    unit="count", group=NATIONAL, levels=(*WHOLE, *TOWNSHIPS), order=50,
    note_zh="牵头医院帮助基层医疗卫生机构开展的新技术、新项目数（导入的统计数据）",
    note_en="New techniques and projects grassroots institutions started with the lead hospital's help (imported statistics)",
))
declare(Indicator(
    "grassroots_bed_occupancy", "基层医疗卫生机构床位使用率", "Grassroots bed occupancy", "KPI-02",
    ways=(Way((s.imported(M.OPEN_BED_DAYS),),
              numerator=s.stat(M.OCCUPIED_BED_DAYS, types=GRASSROOTS_TYPES),
              denominator=s.stat(M.OPEN_BED_DAYS, types=GRASSROOTS_TYPES),
              rows=s.stat_rows(M.OCCUPIED_BED_DAYS, M.OPEN_BED_DAYS, types=GRASSROOTS_TYPES)),),
    unit="%", group=NATIONAL, levels=(*WHOLE, *TOWNSHIPS), order=60,
    note_zh="实际占用总床日数 ÷ 实际开放总床日数", note_en="Occupied bed-days ÷ open bed-days",
))
declare(Indicator(
    "grassroots_insurance_share", "县域内基层医疗卫生机构医保基金占比",
    "Grassroots share of the county's insurance fund", "KPI-02",
    ways=(Way((FUND_ENCOUNTERS,),
              numerator=s.encounters("grassroots_fund"), denominator=s.encounters("fund")),
          Way((s.imported(M.INSURANCE_FUND_YUAN),),
              numerator=s.stat(M.INSURANCE_FUND_YUAN, types=GRASSROOTS_TYPES),
              denominator=s.stat(M.INSURANCE_FUND_YUAN),
              rows=s.stat_rows(M.INSURANCE_FUND_YUAN)),),
    unit="%", group=NATIONAL, levels=WHOLE, order=70,
    note_zh="基层医疗卫生机构医保基金支付 ÷ 县域内医疗机构医保基金支付",
    note_en="Insurance fund paid to grassroots institutions ÷ paid to all institutions in the county",
))
declare(Indicator(
    "satisfaction_rate", "群众县域内就医满意度", "Resident satisfaction with in-county care",
    "KPI-01",
    ways=(Way((s.imported(M.SATISFACTION_SURVEYED),),
              numerator=s.stat(M.SATISFACTION_SATISFIED), denominator=s.stat(M.SATISFACTION_SURVEYED),
              rows=s.stat_rows(M.SATISFACTION_SATISFIED, M.SATISFACTION_SURVEYED)),),
    unit="%", group=NATIONAL, target=Target({"2025": 90}, "KPI-01"), levels=(*WHOLE, *TOWNSHIPS),
    order=80,
    note_zh="满意人数 ÷ 满意度调查人数（导入的调查数据）",
    note_en="Satisfied ÷ surveyed residents (imported survey figures)",
))
declare(Indicator(
    "tcm_share", "基层中医药（蒙医药）门急诊占比",
    "TCM/Mongolian medicine share of grassroots outpatient visits", "KPI-04",
    ways=(Way((GRASSROOTS_OUTPATIENT_ENCOUNTERS,),
              numerator=s.encounters("grassroots_tcm_outpatient"),
              denominator=s.encounters("grassroots_outpatient"),
              rows=s.encounter_rows("at", grassroots=True, outpatient=True, tcm=True)),
          Way((s.imported(M.TCM_VISITS),),
              numerator=s.stat(M.TCM_VISITS, types=GRASSROOTS_TYPES),
              denominator=s.stat(M.OUTPATIENT_VISITS, types=GRASSROOTS_TYPES),
              rows=s.stat_rows(M.TCM_VISITS, M.OUTPATIENT_VISITS, types=GRASSROOTS_TYPES)),),
    unit="%", group=NATIONAL, target=Target({"2025": 35}, "KPI-04"),
    levels=(*WHOLE, *TOWNSHIPS), order=90,
    note_zh="基层医疗卫生机构提供中医药（蒙医药）服务的门急诊人次 ÷ 基层门急诊总人次",
    note_en="Grassroots outpatient and emergency visits with TCM/Mongolian-medicine services ÷ all grassroots outpatient and emergency visits",
))

# --- Family-doctor contracts (FD-01, FD-02) ----------------------------------------------------
declare(Indicator(
    "contract_coverage", "家庭医生签约覆盖率", "Family-doctor contract coverage", "FD-01",
    ways=(Way((CONTRACTS, RESIDENTS),
              numerator=s.figure(CONTRACT_FIGURES, "contracted"),
              denominator=s.residents()),),
    unit="%", group=FAMILY, target=Target({"2024": 60, "2025": 75}, "FD-02"),
    levels=(*WHOLE, *TOWNSHIPS, T.VILLAGE_CLINIC, T.VILLAGE), weight=2, order=110,
    note_zh="统计期内有有效签约的居民数 ÷ 期末常住居民数",
    note_en="Residents with a contract in force in the period ÷ residents at its end",
))
declare(Indicator(
    "key_population_contract_coverage", "重点人群签约覆盖率", "Key-population contract coverage",
    "FD-01",
    ways=(Way((CONTRACTS, RESIDENTS),
              numerator=s.figure(CONTRACT_FIGURES, "key_contracted"),
              denominator=s.key_population_residents()),),
    unit="%", group=FAMILY, target=Target({"2024": 90, "2025": 90}, "FD-02"),
    levels=(*WHOLE, *TOWNSHIPS, T.VILLAGE_CLINIC, T.VILLAGE), weight=2, order=120,
    note_zh="签约的重点人群（65岁及以上、0–6岁儿童、慢病、孕产妇等，每人只计一次）÷ 期末重点人群数",
    note_en="Contracted key-population residents (65+, children 0–6, chronic disease, pregnant …, each once) ÷ key-population residents at the period's end",
))

# --- Walking Hospital and shared centers (WH-06, SHC-03) --------------------------------------
declare(Indicator(
    "wh_visits", "行走的医院就诊人次", "Walking Hospital visits", "WH-06",
    ways=(Way((TELEMED,), numerator=s.count_of(s.wh_visits_qs), rows=s.wh_visits_qs),),
    unit="count", group=WALKING, order=210,
    note_zh="统计期内在本机构范围内开展的行走的医院就诊人次",
    note_en="Walking Hospital visits recorded in the subtree in the period",
))
declare(Indicator(
    "wh_exam_orders", "远程检查申请数", "Remote exam orders", "WH-03",
    ways=(Way((ORDERS,), numerator=s.count_of(s.wh_orders_qs), rows=s.wh_orders_qs),),
    unit="count", group=WALKING, order=220,
    note_zh="统计期内提交的远程检查申请数",
    note_en="Remote exam orders submitted in the period",
))
declare(Indicator(
    "wh_tat_within_target", "远程诊断报告按时签发率", "Remote reports signed within the turnaround target",
    "SHC-03",
    ways=(Way((ORDERS,), numerator=s.wh_signed_in_time(), denominator=s.count_of(s.wh_due_orders),
              rows=s.wh_due_orders),),
    unit="%", group=WALKING, order=230,
    note_zh="按中心与优先级的周转时限（提交→签发）；到期未签发计为超时",
    note_en="Per the center's and priority's target (submitted → signed); open past the target counts as late",
))
declare(Indicator(
    "critical_ack_in_time", "危急值及时确认率", "Critical values acknowledged in time", "WH-07",
    ways=(Way((ALERTS,), numerator=s.critical_acknowledged_in_time(),
              denominator=s.count_of(s.critical_alerts_qs), rows=s.critical_alerts_qs),),
    unit="%", group=WALKING, order=240,
    note_zh="在升级时限内确认的危急值 ÷ 统计期内的危急值",
    note_en="Critical values acknowledged before they escalate ÷ critical values raised in the period",
))
declare(Indicator(
    "lab_within_2h", "检验结果2小时内出具率", "Lab results issued within 2 hours", "SHC-03",
    ways=(Way((LAB,), numerator=s.figure(LAB_FIGURES, "within_target"),
              denominator=s.figure(LAB_FIGURES, "measured"), rows=s.lab_orders_qs),),
    unit="%", group=WALKING, target=Target({"2024": 100}, "SHC-03"),
    levels=(*WHOLE, *COUNTY_HOSPITALS, *TOWNSHIPS), order=250,
    note_zh="采样到出具报告在时限（2小时）内的检验结果 ÷ 有采样时间的检验结果",
    note_en="Lab results reported within the target (2 h) of collection ÷ results with a collection time",
))

# --- Workforce and facility standards (KPI-05, KPI-06, STD-01) --------------------------------
declare(Indicator(
    "gps_per_10000", "每万居民注册全科医生数", "Registered GPs per 10,000 residents", "KPI-05",
    ways=(Way((STAFF, RESIDENTS), numerator=s.registered_gps(), denominator=s.residents()),),
    unit="per_10000", scale=10000, group=WORKFORCE, target_key=policy.GPS_PER_10000_TARGET,
    levels=(*WHOLE, *TOWNSHIPS), order=310,
    note_zh="在岗注册全科医生数 ÷ 期末常住居民数 × 10,000",
    note_en="Registered GPs at work ÷ residents at the period's end × 10,000",
), target_year=2025)
declare(Indicator(
    "qualified_village_doctor_share", "乡村医生中执业（助理）医师占比",
    "Village doctors holding a physician licence", "KPI-06",
    ways=(Way((STAFF,), numerator=s.village_doctors(licensed=True), denominator=s.village_doctors()),),
    unit="%", group=WORKFORCE, target=Target({"2025": 45}, "KPI-06"),
    levels=(*WHOLE, *TOWNSHIPS, T.VILLAGE_CLINIC), order=320,
    note_zh="统计期内在岗乡村医生中持执业医师或执业助理医师资格的人数 ÷ 在岗乡村医生数",
    note_en="Village doctors at work in the period with a (assistant) physician licence ÷ village doctors at work",
))


def _standards(ctx: Ctx) -> tuple[int, int]:
    if "standards" not in ctx.memo:
        from countycare.indicators.standards import compliance_counts

        ctx.memo["standards"] = compliance_counts(ctx.institution)
    return ctx.memo["standards"]


declare(Indicator(
    "facility_standard_compliance", "基层机构达标率（人员与设备）",
    "Grassroots institutions meeting the staffing and equipment standards", "STD-01",
    ways=(Way((STAFF, EQUIPMENT), numerator=lambda ctx: _standards(ctx)[0],
              denominator=lambda ctx: _standards(ctx)[1]),),
    unit="%", group=WORKFORCE, target=Target({"2025": 100}, "STD-01"),
    levels=(*WHOLE, *TOWNSHIPS), order=330,
    note_zh="按当前人员与设备登记核查（STD-02 至 STD-04）",
    note_en="Checked against the current staff and equipment records (STD-02 to STD-04)",
))

# --- Circuit visits and dispatch (OUT-02, OUT-03, OUT-05 … OUT-08) -----------------------------
declare(Indicator(
    "circuit_point_frequency", "巡回医疗服务点服务频次达标率",
    "Circuit service points served as often as required", "OUT-02",
    ways=(Way((POINTS,), numerator=s.figure(OUTREACH_FIGURES, "service_points.met"),
              denominator=s.figure(OUTREACH_FIGURES, "service_points.points")),),
    unit="%", group=OUTREACH, target=Target({"2024": 100}, "OUT-02"), levels=(*WHOLE, *TOWNSHIPS),
    weight=1.5, order=410,
    note_zh="当年服务次数达到要求（每年至少2次）的服务点占比，统计至期末",
    note_en="Points served at least the yearly minimum (twice a year) in the year, up to the period's end",
))
declare(Indicator(
    "elderly_care_monthly_visits", "养老机构月度巡诊达标率", "Elderly-care institutions visited every month",
    "OUT-03",
    ways=(Way((CIRCUITS,), numerator=s.figure(OUTREACH_FIGURES, "elderly_care.met"),
              denominator=s.figure(OUTREACH_FIGURES, "elderly_care.institution_months")),),
    unit="%", group=OUTREACH, target=Target({"2024": 100}, "OUT-03"), levels=(*WHOLE, *TOWNSHIPS),
    order=415,
    note_zh="每月至少巡诊一次的养老机构月数 ÷ 养老机构月数",
    note_en="Elderly-care institution-months with at least one circuit visit ÷ institution-months",
))
declare(Indicator(
    "village_circuit_rate", "无卫生室村巡诊达标率", "Villages without a clinic served by weekly circuits",
    "OUT-04",
    ways=(Way((CIRCUITS,), numerator=s.figure(OUTREACH_FIGURES, "village_circuits.met"),
              denominator=s.figure(OUTREACH_FIGURES, "village_circuits.village_weeks")),),
    unit="%", group=OUTREACH, target=Target({"2024": 100}, "OUT-04"), levels=(*WHOLE, *TOWNSHIPS),
    order=418,
    note_zh="每周有巡诊的无卫生室村周数 ÷ 无卫生室村周数",
    note_en="Village-weeks of villages without a clinic with a circuit visit ÷ village-weeks",
))
declare(Indicator(
    "dispatch_compliance", "派驻人员在岗达标率", "Dispatched weeks with the days on site due", "OUT-05",
    ways=(Way((DISPATCH,), numerator=s.figure(OUTREACH_FIGURES, "dispatch.met"),
              denominator=s.figure(OUTREACH_FIGURES, "dispatch.dispatch_weeks")),),
    unit="%", group=OUTREACH, target=Target({"2024": 100}, "OUT-05"), levels=(*WHOLE, *TOWNSHIPS),
    weight=1.5, order=420,
    note_zh="在岗天数达到要求的派驻周数 ÷ 派驻周数",
    note_en="Dispatched weeks with the days on site due ÷ dispatched weeks",
))
# fmt: on
