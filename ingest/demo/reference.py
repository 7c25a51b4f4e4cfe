"""Static reference data for the demo market: Shenwan SW2021 industries, boards, names, regions.

Nothing here is random; the generator draws from these lists with its seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

# The 31 real Shenwan SW2021 level-1 industries: (index_code, name, Tushare's own industry label,
# relative number of listed stocks (roughly the real counts), planted leverage multiple (assets / equity)).
SW2021_L1: tuple[tuple[str, str, str, float, float], ...] = (
    ("801010.SI", "农林牧渔", "农业综合", 100, 1.9),
    ("801030.SI", "基础化工", "化工原料", 400, 1.9),
    ("801040.SI", "钢铁", "普钢", 45, 2.4),
    ("801050.SI", "有色金属", "小金属", 130, 2.1),
    ("801080.SI", "电子", "元器件", 460, 1.8),
    ("801110.SI", "家用电器", "家用电器", 90, 2.2),
    ("801120.SI", "食品饮料", "白酒", 120, 1.5),
    ("801130.SI", "纺织服饰", "服饰", 110, 1.7),
    ("801140.SI", "轻工制造", "造纸", 150, 1.9),
    ("801150.SI", "医药生物", "化学制药", 480, 1.5),
    ("801160.SI", "公用事业", "电力", 130, 2.8),
    ("801170.SI", "交通运输", "港口", 120, 2.3),
    ("801180.SI", "房地产", "全国地产", 110, 4.5),
    ("801200.SI", "商贸零售", "百货", 100, 2.2),
    ("801210.SI", "社会服务", "旅游服务", 70, 1.7),
    ("801230.SI", "综合", "综合类", 20, 2.2),
    ("801710.SI", "建筑材料", "水泥", 70, 1.9),
    ("801720.SI", "建筑装饰", "建筑工程", 160, 3.2),
    ("801730.SI", "电力设备", "电气设备", 350, 2.0),
    ("801740.SI", "国防军工", "航空", 130, 1.8),
    ("801750.SI", "计算机", "软件服务", 330, 1.5),
    ("801760.SI", "传媒", "影视音像", 140, 1.5),
    ("801770.SI", "通信", "通信设备", 120, 1.8),
    ("801780.SI", "银行", "银行", 42, 12.0),
    ("801790.SI", "非银金融", "证券", 90, 5.0),
    ("801880.SI", "汽车", "汽车配件", 250, 2.0),
    ("801890.SI", "机械设备", "专用机械", 520, 1.8),
    ("801950.SI", "煤炭", "煤炭开采", 37, 2.1),
    ("801960.SI", "石油石化", "石油开采", 47, 2.0),
    ("801970.SI", "环保", "环境保护", 130, 2.2),
    ("801980.SI", "美容护理", "日用化工", 30, 1.5),
)

BANK_L1 = "801780.SI"
N_L2_PER_L1 = 2
N_L3_PER_L2 = 2


@dataclass(frozen=True)
class Board:
    """A listing board: its market label, exchange, ts_code suffix, daily limit and code prefixes."""

    key: str
    market: str
    exchange: str
    suffix: str
    limit: float
    prefixes: tuple[str, ...]
    share: float  # share of the generated universe
    ipo_first_days_unlimited: int  # trading days without a price limit after listing (0: capped first day)


BOARDS: tuple[Board, ...] = (
    Board("sh_main", "主板", "SSE", "SH", 0.10, ("600", "601", "603", "605"), 0.36, 0),
    Board("star", "科创板", "SSE", "SH", 0.20, ("688",), 0.10, 5),
    Board("sz_main", "主板", "SZSE", "SZ", 0.10, ("000", "001", "002"), 0.27, 0),
    Board("chinext", "创业板", "SZSE", "SZ", 0.20, ("300", "301"), 0.24, 5),
    Board(
        "bj",
        "北交所",
        "BSE",
        "BJ",
        0.30,
        ("830", "831", "832", "833", "834", "835", "836", "837", "838", "839", "870", "871", "872", "873"),
        0.03,
        1,
    ),
)

MAIN_BOARD_IPO_CAP = 0.44  # first-day cap of a main-board IPO (+44% of the issue price)

AREAS: tuple[str, ...] = (
    "北京",
    "上海",
    "深圳",
    "广东",
    "浙江",
    "江苏",
    "山东",
    "福建",
    "四川",
    "湖北",
    "湖南",
    "安徽",
    "河南",
    "河北",
    "辽宁",
    "天津",
    "重庆",
    "陕西",
    "江西",
    "吉林",
    "黑龙江",
    "云南",
    "广西",
    "山西",
    "贵州",
    "新疆",
    "内蒙",
    "甘肃",
    "海南",
    "宁夏",
    "青海",
    "西藏",
)

# Name parts: (hanzi, pinyin). Short names are first + second + suffix (e.g. 华信科技).
NAME_FIRST: tuple[tuple[str, str], ...] = (
    ("华", "Hua"),
    ("中", "Zhong"),
    ("国", "Guo"),
    ("新", "Xin"),
    ("东", "Dong"),
    ("南", "Nan"),
    ("西", "Xi"),
    ("北", "Bei"),
    ("金", "Jin"),
    ("天", "Tian"),
    ("长", "Chang"),
    ("海", "Hai"),
    ("恒", "Heng"),
    ("宏", "Hong"),
    ("永", "Yong"),
    ("富", "Fu"),
    ("荣", "Rong"),
    ("瑞", "Rui"),
    ("安", "An"),
    ("嘉", "Jia"),
    ("泰", "Tai"),
    ("鼎", "Ding"),
    ("联", "Lian"),
    ("盛", "Sheng"),
    ("汇", "Hui"),
    ("通", "Tong"),
    ("信", "Xin"),
    ("隆", "Long"),
    ("博", "Bo"),
    ("正", "Zheng"),
    ("兴", "Xing"),
    ("光", "Guang"),
    ("科", "Ke"),
    ("万", "Wan"),
    ("明", "Ming"),
    ("德", "De"),
    ("远", "Yuan"),
    ("云", "Yun"),
    ("春", "Chun"),
    ("广", "Guang"),
)
NAME_SECOND: tuple[tuple[str, str], ...] = (
    ("达", "da"),
    ("源", "yuan"),
    ("辉", "hui"),
    ("创", "chuang"),
    ("航", "hang"),
    ("峰", "feng"),
    ("宇", "yu"),
    ("力", "li"),
    ("威", "wei"),
    ("诚", "cheng"),
    ("和", "he"),
    ("康", "kang"),
    ("利", "li"),
    ("丰", "feng"),
    ("发", "fa"),
    ("阳", "yang"),
    ("昌", "chang"),
    ("林", "lin"),
    ("江", "jiang"),
    ("山", "shan"),
    ("田", "tian"),
    ("元", "yuan"),
    ("晶", "jing"),
    ("润", "run"),
    ("腾", "teng"),
    ("鑫", "xin"),
    ("凯", "kai"),
    ("邦", "bang"),
    ("成", "cheng"),
    ("宝", "bao"),
)
# Suffixes per L1 industry index (hanzi, pinyin initials, English word); a generic list is used besides.
NAME_SUFFIX_GENERIC: tuple[tuple[str, str, str], ...] = (
    ("股份", "gf", ""),
    ("科技", "kj", "Technology"),
    ("实业", "sy", "Industrial"),
    ("集团", "jt", "Group"),
    ("控股", "kg", "Holdings"),
)
NAME_SUFFIX_BY_L1: dict[str, tuple[tuple[str, str, str], ...]] = {
    "801780.SI": (("银行", "yh", "Bank"),),
    "801790.SI": (("证券", "zq", "Securities"), ("保险", "bx", "Insurance")),
    "801180.SI": (("地产", "dc", "Real Estate"), ("置业", "zy", "Properties")),
    "801150.SI": (("药业", "yy", "Pharmaceutical"), ("生物", "sw", "Biotech")),
    "801080.SI": (("电子", "dz", "Electronics"), ("微电", "wd", "Microelectronics")),
    "801750.SI": (("软件", "rj", "Software"), ("信息", "xx", "Information")),
    "801730.SI": (("电气", "dq", "Electric"), ("能源", "ny", "Energy")),
    "801890.SI": (("机械", "jx", "Machinery"), ("重工", "zg", "Heavy Industry")),
    "801030.SI": (("化工", "hg", "Chemical"), ("新材", "xc", "New Materials")),
    "801120.SI": (("食品", "sp", "Food"), ("酒业", "jy", "Liquor")),
    "801880.SI": (("汽车", "qc", "Automobile"), ("汽配", "qp", "Auto Parts")),
    "801160.SI": (("电力", "dl", "Power"), ("水务", "sw", "Water")),
    "801950.SI": (("煤业", "my", "Coal"),),
    "801040.SI": (("钢铁", "gt", "Steel"),),
    "801960.SI": (("石化", "sh", "Petrochemical"),),
}

ACT_ENT_TYPES: tuple[str, ...] = ("民营企业", "地方国企", "中央国企", "外资企业", "公众企业", "集体企业", "无")
ACT_ENT_PROBS: tuple[float, ...] = (0.58, 0.2, 0.1, 0.04, 0.04, 0.02, 0.02)
SURNAMES: tuple[str, ...] = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡")
GIVEN: tuple[str, ...] = ("伟", "芳", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "建国", "志强", "海燕")
