"""Set-based generator of a province-sized registry on PostgreSQL (issue 14).

N households over synthetic townships (one per 13,333 households, at least 1) and villages (10 per
township), 10 村民小组 per village, one cadre per 7.5 households, a 2017 plan for 80 % of the
households, a signed commitment letter for 60 % of the plans. Everything is `INSERT … SELECT …
generate_series`: no row passes through Python. The ledger (the allocation) is then posted by the
real `allocate` command and a few batches by the real services (see `scale.py`).

The shape of the 2 M run (issue 14): 150 townships, 1,500 villages, 268 k cadres, 1.6 M plans.
"""

from __future__ import annotations

import time

import psycopg

HOUSEHOLDS_PER_TOWNSHIP = 13_334
VILLAGES_PER_TOWNSHIP = 10
GROUPS_PER_VILLAGE = 10
HOUSEHOLDS_PER_CADRE = 7.5

SURNAMES = [
    "扎西",
    "卓玛",
    "次仁",
    "拉姆",
    "格桑",
    "央金",
    "达瓦",
    "白玛",
    "尼玛",
    "益西",
    "李",
    "王",
    "和",
    "杨",
    "赵",
    "张",
    "刘",
    "陈",
    "孙",
    "马",
]
GIVEN = [
    "明",
    "华",
    "平",
    "强",
    "丽",
    "芳",
    "军",
    "梅",
    "英",
    "林",
    "春",
    "秀",
    "国",
    "兰",
    "云",
    "海",
    "东",
    "珍",
    "措",
    "吉",
]


def generate(dsn: str, households: int, *, log: bool = True) -> dict[str, float]:
    """Fill a freshly migrated database; returns the seconds each step took."""
    townships = max(1, round(households / HOUSEHOLDS_PER_TOWNSHIP))
    villages = townships * VILLAGES_PER_TOWNSHIP
    cadres = max(1, int(households / HOUSEHOLDS_PER_CADRE))
    timings: dict[str, float] = {}
    surnames = "ARRAY[" + ",".join(f"'{s}'" for s in SURNAMES) + "]"
    given = "ARRAY[" + ",".join(f"'{s}'" for s in GIVEN) + "]"
    steps: list[tuple[str, str]] = [
        (
            "townships",
            f"""INSERT INTO households_township (code, name, kind)
            SELECT 'S' || lpad(t::text, 8, '0'), '基准' || t || '乡', '乡'
            FROM generate_series(1, {townships}) t""",
        ),
        (
            "villages",
            f"""INSERT INTO households_village (code, township_id, name, kind, is_poor_village, contact)
            SELECT 'S' || lpad(t.n::text, 8, '0') || lpad(v::text, 3, '0'), t.id, '基准' || v || '村', '村',
                   v = 1, ''
            FROM (SELECT id, substr(code, 2)::int AS n FROM households_township WHERE code LIKE 'S%') t,
                 generate_series(1, {VILLAGES_PER_TOWNSHIP}) v""",
        ),
        (
            "groups",
            f"""INSERT INTO households_villagegroup (village_id, name)
            SELECT v.id, g || '组' FROM households_village v, generate_series(1, {GROUPS_PER_VILLAGE}) g
            WHERE v.code LIKE 'S%'""",
        ),
        (
            "cadres",
            f"""CREATE TEMP TABLE bench_villages AS
                SELECT row_number() OVER (ORDER BY code) - 1 AS n, id, township_id FROM households_village
                WHERE code LIKE 'S%';
            INSERT INTO households_user (password, is_superuser, username, first_name, last_name, email,
                is_staff, is_active, date_joined, name, phone, role, township_id, village_id)
            SELECT '!', false, 'bc' || c, '', '', '', false, true, now(),
                   ({surnames})[1 + c % 20] || ({given})[1 + (c / 20) % 20], '139' || lpad(c::text, 8, '0'),
                   'cadre', bv.township_id, bv.id
            FROM generate_series(0, {cadres - 1}) c JOIN bench_villages bv ON bv.n = (c * {villages}::bigint / {cadres})""",
        ),
        (
            "households",
            f"""CREATE TEMP TABLE bench_cadres AS
                SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM households_user WHERE username LIKE 'bc%';
            CREATE UNIQUE INDEX ON bench_cadres (n);
            CREATE TEMP TABLE bench_groups AS
                SELECT row_number() OVER (ORDER BY v.code, g.name) - 1 AS n, g.id, g.village_id
                FROM households_villagegroup g JOIN households_village v ON v.id = g.village_id
                WHERE v.code LIKE 'S%';
            CREATE UNIQUE INDEX ON bench_groups (n);
            INSERT INTO households_household (code, head_name, id_number, size, labour, exit_year,
                consolidation, phone, ethnicity, bank_name, bank_account, created_at, updated_at,
                cadre_id, village_id, group_id)
            SELECT 'B' || lpad(h::text, 10, '0'),
                   ({surnames})[1 + (h * 7) % 20] || ({given})[1 + (h / 20) % 20] || ({given})[1 + (h / 400) % 20],
                   '5334' || lpad(h::text, 14, '0'), 1 + h % 6, h % 3, 2015 + h % 4, h % 8 = 0,
                   '', '藏族', '', '', now(), now(), c.id, g.village_id, g.id
            FROM generate_series(0, {households - 1}) h
            JOIN bench_cadres c ON c.n = (h * {cadres}::bigint / {households})
            JOIN bench_groups g ON g.n = (h * {villages * GROUPS_PER_VILLAGE}::bigint / {households})""",
        ),
        (
            "assignments",
            """INSERT INTO households_cadreassignment (started_at, cadre_id, household_id)
            SELECT now(), cadre_id, id FROM households_household WHERE code LIKE 'B%'""",
        ),
        (
            "plans",
            """INSERT INTO subsidies_householdplan (year, status, crops, planting_area, species,
                breeding_quantity, tranche1_percent, tranche2_percent, tranche3_percent, ratio_reason,
                policy_version, planting_subsidy, breeding_subsidy, grant_total, tranche1, tranche2,
                tranche3, explanation, created_at, updated_at, created_by_id, household_id, policy_id,
                revision)
            SELECT 2017, CASE WHEN h.id % 10 < 6 THEN 'approved' ELSE 'submitted' END, '青稞', 1.50,
                   CASE WHEN h.id % 2 = 0 THEN '猪' ELSE '' END,
                   CASE WHEN h.id % 2 = 0 THEN 2 ELSE 0 END, 60, 20, 20, '', p.version,
                   750.00, CASE WHEN h.id % 2 = 0 THEN 1000.00 ELSE 0 END,
                   CASE WHEN h.id % 2 = 0 THEN 1750.00 ELSE 750.00 END,
                   CASE WHEN h.id % 2 = 0 THEN 1050.00 ELSE 450.00 END,
                   CASE WHEN h.id % 2 = 0 THEN 350.00 ELSE 150.00 END,
                   CASE WHEN h.id % 2 = 0 THEN 350.00 ELSE 150.00 END,
                   '[]'::jsonb, now(), now(), h.cadre_id, h.id, p.id, 0
            FROM households_household h, subsidies_policy p
            WHERE p.year = 2017 AND h.code LIKE 'B%' AND h.id % 5 <> 4""",
        ),
        (
            "letters",
            """INSERT INTO subsidies_commitmentletter (signed_on, scan, uploaded_at, uploaded_by_id, plan_id,
                plan_revision, signed_amount)
            SELECT DATE '2017-04-10', '', now(), pl.created_by_id, pl.id, 0, pl.grant_total
            FROM subsidies_householdplan pl WHERE pl.status = 'approved' AND pl.created_by_id IS NOT NULL""",
        ),
        ("vacuum analyze", "VACUUM ANALYZE"),
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, sql in steps:
            started = time.perf_counter()
            conn.execute(sql)  # type: ignore[arg-type]
            timings[name] = time.perf_counter() - started
            if log:
                print(f"  {name}: {timings[name]:.1f} s", flush=True)
    return timings
