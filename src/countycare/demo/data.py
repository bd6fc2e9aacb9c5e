"""Static data of the demo county, modelled on Ejin Horo Banner (伊金霍洛旗, 150627) as seeds
001 and 004 describe it: the lead hospital and member hospitals, seven towns with their health
centers, community health centers in the banner seat, 138 嘎查村 with clinics (seed 001 §12).

Village names are plausible, not an official register: Mongolian place names (嘎查) and
Chinese ones (村) in the style of the Ordos plateau. Coordinates are approximate town centres
within the banner (39.2–39.8° N, 109.4–110.3° E)."""

from __future__ import annotations

from dataclasses import dataclass

COUNTY_DIVISION = "150627"
COUNTY_NAME = "伊金霍洛旗"
COMMUNITY_NAME = "伊金霍洛旗医共体"

# The demo county's bounding box (the "roughly 39.2–39.8° N, 109.4–110.3° E").
LAT_MIN, LAT_MAX = 39.2, 39.8
LON_MIN, LON_MAX = 109.4, 110.3


@dataclass(frozen=True)
class Town:
    key: str  # short code used in institution codes
    name: str  # 札萨克镇
    center_name: str  # 伊金霍洛旗札萨克镇中心卫生院
    lat: float
    lon: float
    is_central: bool
    is_sub_center: bool
    standard: str  # capability standard the center targets (STD-01)
    villages: tuple[str, ...]


# Seed 001 §6: 札萨克, 乌兰木伦, 纳林陶亥, 红庆河 central centres become county sub-centers;
# it also names 伊金霍洛中心卫生院 and 苏布尔嘎中心卫生院 (§1), and 苏布尔嘎 and 纳林陶亥 reach
# the recommended standard in 2025. 红庆河 and 札萨克 are flagged as sub-centers here.
TOWNS: tuple[Town, ...] = (
    Town(
        "T01",
        "阿勒腾席热镇",
        "伊金霍洛旗阿勒腾席热镇卫生院",
        39.605,
        109.745,
        False,
        False,
        "basic",
        (
            "哈沙图嘎查", "呼和乌素嘎查", "巴音敖包嘎查", "西红海子村", "东红海子村",
            "掌岗图嘎查", "罕台村", "昌汉敖包嘎查", "乌兰陶勒盖嘎查", "王家塔村",
            "刘家渠村", "新庙村",
        ),
    ),
    Town(
        "T02",
        "乌兰木伦镇",
        "伊金霍洛旗乌兰木伦镇中心卫生院",
        39.425,
        110.055,
        True,
        False,
        "basic",
        (
            "乌兰木伦村", "巴图塔村", "石灰沟村", "哈拉沟村", "石圪台村", "活鸡兔村",
            "母杜柴登嘎查", "上湾村", "马家塔村", "转龙湾村", "瓦窑渠村", "贾家渠村",
            "安家塔村", "白家梁村", "李家畔村", "张家梁村", "牛家梁村", "温家塔村",
            # The 布连 area, served by 布连卫生院 (seed 001 §1).
            "布连嘎查", "前补连村", "后补连村", "补连塔村", "哈达图嘎查", "杨家湾村",
        ),
    ),
    Town(
        "T03",
        "札萨克镇",
        "伊金霍洛旗札萨克镇中心卫生院",
        39.285,
        109.640,
        True,
        True,
        "basic",
        (
            "门克庆嘎查", "查干淖尔嘎查", "公尼召嘎查", "台格庙村", "新街村", "合同庙嘎查",
            "毛乌素嘎查", "敖包梁村", "赛台吉嘎查", "乌兰敖包嘎查", "布拉格嘎查",
            "阿吉奈嘎查", "宝日陶亥嘎查", "查干布拉格嘎查", "色连嘎查", "哈巴格希嘎查",
            "格丁盖嘎查", "巴嘎淖尔嘎查", "伊克淖尔嘎查", "高家梁村", "郝家梁村",
            "武家塔村", "韩家渠村", "四道柳村", "五股泉村", "沙圪堵村",
        ),
    ),
    Town(
        "T04",
        "纳林陶亥镇",
        "伊金霍洛旗纳林陶亥镇中心卫生院",
        39.585,
        110.130,
        True,
        False,
        "recommended",
        (
            "纳林希里嘎查", "新民村", "柳沟村", "朱盖塔村", "台吉召村", "宝勒根陶亥嘎查",
            "乌兰哈达嘎查", "柴登嘎查", "三股水村", "乔家圪堵村", "陈家湾村",
            "苏家河畔村", "崔家渠村", "黄家湾村", "呼家塔村", "孙家岔村", "梁家塔村",
            "王家畔村", "前石畔村", "后石畔村", "圪丑沟村", "庙壕村",
        ),
    ),
    Town(
        "T05",
        "红庆河镇",
        "伊金霍洛旗红庆河镇中心卫生院",
        39.365,
        109.500,
        True,
        True,
        "basic",
        (
            "红庆河村", "呼和淖尔嘎查", "乌兰淖尔嘎查", "敖伦淖尔嘎查", "察汗淖嘎查",
            "图古日格嘎查", "哈日根图嘎查", "沙日塔拉嘎查", "额尔和图嘎查", "赛音乌素嘎查",
            "巴音希里嘎查", "巴音布拉格嘎查", "胜利村", "永胜村", "东升村", "光明村",
            "红旗村", "先锋村", "和平村", "团结村",
        ),
    ),
    Town(
        "T06",
        "伊金霍洛镇",
        "伊金霍洛旗伊金霍洛镇中心卫生院",
        39.375,
        109.790,
        True,
        False,
        "basic",
        (
            "巴音淖尔嘎查", "阿拉腾敖包嘎查", "查干陶勒盖嘎查", "呼和陶勒盖嘎查",
            "敖包图嘎查", "阿日善嘎查", "乌素图嘎查", "温都尔庙嘎查", "伊克敖包嘎查",
            "苏泊罕嘎查", "霍洛嘎查", "耳字壕村", "新胜村", "大沟村", "五一村",
            "塔拉沟村", "前进村", "东风村",
        ),
    ),
    Town(
        "T07",
        "苏布尔嘎镇",
        "伊金霍洛旗苏布尔嘎镇中心卫生院",
        39.660,
        109.520,
        True,
        False,
        "recommended",
        (
            "苏布尔嘎嘎查", "布日都嘎查", "毛盖图嘎查", "乌兰不浪嘎查", "格尔图嘎查",
            "巴音乌苏嘎查", "宝日呼舒嘎查", "查汗庙嘎查", "呼日乐嘎查", "嘎鲁图嘎查",
            "朝鲁图嘎查", "敖包湾嘎查", "阿拉善湾村", "塔拉壕村", "尔林兔村", "沙拉村",
        ),
    ),
)  # fmt: skip

VILLAGE_COUNT = 138  # seed 001 §12: "全旗138个嘎查村"

# 布连卫生院 (seed 001 §1) serves the 布连 villages of 乌兰木伦镇.
BULIAN_CENTER = "伊金霍洛旗乌兰木伦镇布连卫生院"
BULIAN_VILLAGES = frozenset(
    {"布连嘎查", "前补连村", "后补连村", "补连塔村", "哈达图嘎查", "杨家湾村"}
)


@dataclass(frozen=True)
class Hospital:
    key: str
    name: str
    short_name: str
    type: str
    is_lead: bool = False


# Seed 001 §1/§5 and 004: the lead hospital (旗人民医院) and the member hospitals, the CDC.
HOSPITALS: tuple[Hospital, ...] = (
    Hospital("H01", "伊金霍洛旗人民医院", "旗人民医院", "general_hospital", is_lead=True),
    Hospital("H02", "伊金霍洛旗蒙医综合医院", "旗蒙医综合医院", "mongolian_medicine_hospital"),
    Hospital("H03", "伊金霍洛旗妇幼保健院", "旗妇幼保健院", "mch_hospital"),
    Hospital("H04", "伊金霍洛旗第二人民医院", "旗第二人民医院", "general_hospital"),
    Hospital("H05", "伊金霍洛旗疾病预防控制中心", "旗疾控中心", "cdc"),
)
HOSPITAL_SITE = (39.607, 109.760)  # the banner seat, 阿勒腾席热镇


@dataclass(frozen=True)
class CommunityCenter:
    key: str
    name: str
    area: str
    standard: str
    stations: tuple[str, ...]


# STD-06: a community center per street or 30,000–50,000 people, stations per 8,000–20,000.
# 水岸新城 is from seed 001 §1/§9 (a model TCM hall, hence the recommended standard).
COMMUNITY_CENTERS: tuple[CommunityCenter, ...] = (
    CommunityCenter(
        "C01",
        "伊金霍洛旗水岸新城社区卫生服务中心",
        "水岸新城社区",
        "recommended",
        ("天骄社区卫生服务站", "文明社区卫生服务站"),
    ),
    CommunityCenter(
        "C02",
        "伊金霍洛旗阿勒腾席热镇锦绣社区卫生服务中心",
        "锦绣社区",
        "basic",
        ("团结社区卫生服务站", "北苑社区卫生服务站", "西园社区卫生服务站"),
    ),
    CommunityCenter(
        "C03",
        "伊金霍洛旗阿勒腾席热镇兴达社区卫生服务中心",
        "兴达社区",
        "basic",
        ("神华康城社区卫生服务站",),
    ),
)

# OUT-03: elderly-care institutions the township centres visit monthly (seed 001 §12).
ELDERLY_CARE: tuple[tuple[str, str, int], ...] = (
    ("T03", "伊金霍洛旗札萨克镇敬老院", 60),
    ("T05", "伊金霍洛旗红庆河镇敬老院", 45),
    ("T04", "伊金霍洛旗纳林陶亥镇颐养院", 80),
    ("T06", "伊金霍洛旗伊金霍洛镇敬老院", 50),
)

# Where residents' national IDs were issued: mostly the banner, some from neighbours
# (东胜区, 达拉特旗, 乌审旗, 康巴什区, and 神木 across the border in Shaanxi).
DIVISIONS: tuple[tuple[str, float], ...] = (
    ("150627", 0.86),
    ("150602", 0.04),
    ("150621", 0.03),
    ("150626", 0.025),
    ("150603", 0.015),
    ("612722", 0.03),
)

# GB/T 3304 codes: Han, Mongol, Hui, Manchu, Daur, Tujia, Korean (the banner's mix).
ETHNICITY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("01", 0.84),
    ("02", 0.13),
    ("03", 0.015),
    ("11", 0.009),
    ("31", 0.003),
    ("15", 0.002),
    ("10", 0.001),
)

# Common surnames of northern Shaanxi and Ordos Han families, weighted (per mille-ish).
HAN_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 75), ("李", 70), ("张", 62), ("刘", 60), ("杨", 35), ("赵", 30), ("高", 30),
    ("郝", 25), ("白", 25), ("郭", 22), ("贾", 20), ("陈", 20), ("马", 20), ("乔", 18),
    ("苏", 18), ("武", 18), ("孙", 15), ("胡", 15), ("周", 15), ("韩", 15), ("闫", 12),
    ("梁", 12), ("任", 11), ("田", 11), ("宋", 10), ("徐", 10), ("吕", 10), ("何", 9),
    ("吴", 9), ("冯", 9), ("曹", 9), ("崔", 8), ("侯", 8), ("薛", 8), ("袁", 7), ("邢", 6),
    ("秦", 6), ("雷", 6), ("尚", 5), ("温", 5), ("康", 5), ("牛", 5), ("訾", 3), ("奥", 3),
    ("云", 3), ("折", 2), ("呼", 3), ("党", 3), ("拓", 2), ("贺", 6), ("常", 6), ("石", 6),
)  # fmt: skip
HUI_SURNAMES: tuple[tuple[str, float], ...] = (
    ("马", 40), ("李", 10), ("丁", 10), ("杨", 8), ("白", 8), ("海", 4), ("穆", 4), ("纳", 3),
)  # fmt: skip
MANCHU_SURNAMES: tuple[tuple[str, float], ...] = (
    ("关", 20), ("佟", 10), ("赵", 10), ("那", 6), ("金", 8), ("富", 4), ("肖", 4), ("伊", 3),
)  # fmt: skip
DAUR_SURNAMES: tuple[tuple[str, float], ...] = (("郭", 10), ("敖", 8), ("孟", 6), ("鄂", 6))
# Mongol families who use a Chinese-style name take these surnames.
MONGOL_SURNAMES: tuple[tuple[str, float], ...] = (
    ("包", 30), ("白", 20), ("奇", 12), ("鲍", 8), ("韩", 8), ("云", 6), ("乌", 4), ("敖", 6),
)  # fmt: skip

# Given-name characters by generation (older names differ from younger ones).
GIVEN_MALE = {
    "old": "福贵德顺生旺柱喜有金山林成明忠义宝财发春",
    "mid": "伟强军磊勇杰涛斌超明刚平辉鹏华飞波宁龙峰建国文志海东亮俊兵利",
    "young": "浩宇轩博子晨睿泽凯旭阳瑞鑫航锦昊天一铭豪奕皓宸",
}
GIVEN_FEMALE = {
    "old": "秀英兰凤珍芬桂玉梅花翠莲荣淑琴娥枝香",
    "mid": "芳娜敏静丽艳娟霞燕红萍琴雪慧婷玲丹华晶",
    "young": "欣怡涵萱悦琳妍雨佳可馨梓诺婉思语若彤菲月",
}

# Mongolian names as written in Chinese characters.
MONGOL_MALE = (
    "巴特尔", "额尔敦", "巴图", "宝音", "那顺", "朝鲁", "苏和", "阿拉坦", "孟和", "图门",
    "敖其尔", "吉日嘎拉", "额尔德木图", "巴雅尔", "斯琴巴特尔", "旭日", "哈斯", "布和",
    "格日勒图", "毕力格", "特木尔", "阿古拉", "乌力吉", "宝力道", "那日苏", "达来",
    "巴音", "额尔敦巴雅尔", "朝克图", "呼和", "满都拉", "青格勒", "乌日图", "阿木古楞",
)  # fmt: skip
MONGOL_FEMALE = (
    "其其格", "乌云", "斯琴图雅", "萨仁", "娜仁", "高娃", "托娅", "塔娜", "乌兰",
    "其木格", "阿拉坦其其格", "乌日娜", "萨日娜", "格日勒", "图雅", "苏日娜", "乌仁",
    "斯琴", "吉雅", "敖登", "娜日苏", "萨如拉", "乌云其其格", "额尔敦高娃", "包格日乐",
    "琪琪格", "阿茹娜", "诺敏", "萨日朗", "哈斯图雅",
)  # fmt: skip

# Mobile number prefixes of the three carriers (11-digit numbers).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "198", "199",
)  # fmt: skip

# Lead-hospital departments for specialists (seed 001 §6 names the key specialties).
SPECIALTIES = (
    "心血管内科", "呼吸内科", "消化内科", "内分泌科", "神经内科", "综合内科", "普外科",
    "骨科", "妇产科", "儿科", "重症医学科", "急诊科", "眼科", "耳鼻喉科", "精神心理科",
)  # fmt: skip
# SHC-01/SHC-02: the lead hospital's shared centers and how many readers each has.
READING_CENTERS: tuple[tuple[str, int, str], ...] = (
    ("远程心电中心", 3, "licensed_physician"),
    ("远程超声中心", 4, "licensed_physician"),
    ("医学影像中心", 4, "licensed_physician"),
    ("医学检验中心", 3, "technician"),
)

# Key-population tag sources (recorded with each declared tag).
SOURCES = {
    "hypertension": ("健康体检", "慢病筛查", "医院诊断", "门诊测压"),
    "type2_diabetes": ("健康体检", "慢病筛查", "医院诊断"),
    "severe_mental_disorder": ("医院诊断", "精神卫生机构转介"),
    "tuberculosis": ("结核病定点医院诊断",),
    "disabled": ("残联登记",),
    "pregnant": ("孕产妇建册",),
    "poverty_return_monitoring": ("乡村振兴部门名单",),
    "left_behind_child": ("民政部门摸排",),
}
