"""A believable roster for demos and benchmarks: real villages, Tibetan/Naxi/Lisu/Han names, valid IDs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from stdnum.cn import ric

# The roster's columns in the order of excel-formats.md §1 (households.roster.COLUMNS checks them);
# written out so that this module, used by the benchmarks before Django starts, imports no models.
ROSTER_HEADER = [
    "户编号",
    "户主姓名",
    "身份证号",
    "乡镇",
    "村委会",
    "村民小组",
    "家庭人口",
    "劳动力",
    "脱贫年度",
    "巩固提升",
    "联系电话",
    "挂包干部",
    "挂包干部电话",
]

GIVEN = [
    "扎西",
    "卓玛",
    "格桑",
    "央宗",
    "次仁",
    "拉姆",
    "达瓦",
    "尼玛",
    "益西",
    "白玛",
    "顿珠",
    "措姆",
    "农布",
    "此里",
]
NAXI = ["和文光", "和丽华", "木春花", "杨正华", "和建国", "李秀英"]
LISU = ["余志明", "蜂小兰", "密三妹", "熊福全"]
HAN = ["王建华", "李秀兰", "张志强", "刘德明", "陈玉芬", "杨国庆"]
SURNAMED = ["鲁茸", "阿称", "七林", "此称", "松诺", "斯那", "都吉", "农布"]
CADRE_NAMES = [
    "李明",
    "王芳",
    "张伟",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "孙强",
    "周杰",
    "吴霞",
    "郑涛",
    "和晓燕",
    "木向东",
    "扎西平措",
    "格茸卓玛",
]
GROUPS = ["一组", "二组", "三组", "四组", "五组", "六组", "上组", "下组"]


def head_name(rng: random.Random) -> str:
    pool = rng.choice([GIVEN, GIVEN, NAXI, LISU, HAN])
    name = rng.choice(pool)
    if pool is GIVEN and rng.random() < 0.5:
        name = rng.choice(SURNAMED) + name
    return name


def id_number(rng: random.Random, serial: int) -> str:
    year = rng.randint(1945, 1995)
    body = f"533421{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def roster_rows(
    villages: list[tuple[str, str]], count: int, *, seed: int = 2017, code_prefix: str = "HH"
) -> Iterator[list[Any]]:
    """`count` roster rows spread over `villages` ((township, village) names); IDs unique by serial."""
    rng = random.Random(seed)
    cadres = [(name, f"138{i:08d}") for i, name in enumerate(CADRE_NAMES * (1 + count // 300))]
    used_ids: set[str] = set()
    for n in range(1, count + 1):
        township, village = villages[n % len(villages)]
        size = rng.randint(1, 7)
        ident = id_number(rng, n)
        while ident in used_ids:
            ident = id_number(rng, n)
        used_ids.add(ident)
        cadre_name, cadre_phone = cadres[(n // 6) % len(cadres)]  # about six households per cadre
        cohort = rng.choices([2016, 2017, 2018], weights=[2, 6, 2])[0]
        yield [
            f"{code_prefix}{n:07d}",
            head_name(rng),
            ident,
            township,
            village,
            rng.choice(GROUPS),
            size,
            rng.randint(0, size),
            cohort,
            "是" if cohort == 2016 and rng.random() < 0.5 else "否",
            f"139{rng.randint(0, 99_999_999):08d}",
            cadre_name,
            cadre_phone,
        ]
