"""Demo data of the village funds (`seed_demo` calls it through `CollectivesConfig.demo_year`; also
`manage.py seed_collectives`): one poor village's year from plan to report, with every kind of record
— a group of 7 households (农布次仁, 阿旺次仁多吉 …) with open loans, repayments, a 代偿, an overdue
instalment, a reschedule, a write-off and a recovery, equity and dividends, the cooperative, a 督查 with
an open and a closed item, the year-end report submitted, published and accepted. The demo village is
the demo village user's (红坡村) when it is poor."""

from __future__ import annotations

import datetime
import io
import random
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from disbursements import approval, notices
from households.demo import ROSTER_HEADER, id_number
from households.models import Household, Role, User, Village, VillageGroup
from households.roster import roster_import

from . import equity, loan_batches, report, services, supervision
from .models import Counterparty, Loan, VillageFund

# Members of the demo village's joint-guarantee group, added when the village has fewer households.
MEMBERS = ("农布次仁", "阿旺次仁多吉", "格桑卓玛", "扎西平措", "次里拉姆", "达瓦央金", "鲁茸此里")

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
D = Decimal


def _pdf(name: str = "scan.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF)


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 40, 40)).save(out, "JPEG")
    return SimpleUploadedFile("photo.jpg", out.getvalue())


def _official(role: str, village: Village, username: str) -> User:
    user = User.objects.filter(role=role, village=village if role == Role.VILLAGE else None).first()
    if role == Role.TOWNSHIP:
        user = User.objects.filter(role=role, township=village.township).first()
    if role == Role.CITY:
        user = User.objects.filter(role=role).first()
    if user is None:
        user = User(
            username=username,
            role=role,
            village=village if role == Role.VILLAGE else None,
            township=village.township if role == Role.TOWNSHIP else None,
        )
        user.set_unusable_password()
        user.save()
    return user


def _demo_village() -> Village | None:
    village_user = (
        User.objects.filter(role=Role.VILLAGE, village__is_poor_village=True).order_by("pk").first()
    )
    if village_user is not None:
        return village_user.village
    return Village.objects.filter(is_poor_village=True).order_by("code").first()


def _households(village: Village, wanted: int) -> list[Household]:
    """`wanted` households of the village, the roster import adding the group's members it lacks
    (still poor in 2017: they exit in 2018, so the year's household grant, allocated before, is
    not owed to them)."""
    have = list(Household.objects.filter(village=village).order_by("code")[:wanted])
    missing = MEMBERS[: wanted - len(have)] if len(have) < wanted else ()
    if missing:
        rng = random.Random(13)
        group = VillageGroup.objects.filter(village=village).order_by("name").first()
        rows = [
            [
                f"VC{village.code[-6:]}{n:02d}", name, id_number(rng, 900 + n), village.township.name,
                village.name, group.name if group else "一组", 4, 2, 2018, "否",
                f"139{rng.randint(0, 10**8 - 1):08d}", "", "",
            ]
            for n, name in enumerate(missing, 1)
        ]  # fmt: skip
        result = roster_import(
            header=ROSTER_HEADER, rows=rows, actor=None, file_name="村集体经济演示数据", file_sha256="",
            dry_run=False,
        )  # fmt: skip
        if not result.ok:
            raise RuntimeError("村集体经济演示户导入失败：" + "；".join(str(e) for e in result.errors[:5]))
    return list(Household.objects.filter(village=village).order_by("-code")[:wanted])


def seed(year: int = 2017) -> str:
    village = _demo_village()
    if village is None:
        return "没有贫困村，未生成村集体经济演示数据。"
    if VillageFund.objects.filter(village=village, year=year).exists():  # seeded before: nothing twice
        return f"村集体经济：{village.name}的演示数据已存在。"
    city = _official(Role.CITY, village, "vc_city")
    village_user = _official(Role.VILLAGE, village, "vc_village")
    township_user = _official(Role.TOWNSHIP, village, "vc_township")
    services.budget_receive(
        year=year, amount=D("20000000"), received_on=datetime.date(year, 3, 1),
        reference="香财农〔2017〕12号", actor=city,
    )  # fmt: skip
    fund = services.fund_allocate(village=village, year=year, actor=city)
    plan = services.plan_draft(
        fund=fund,
        meeting_on=datetime.date(year, 3, 10),
        attendance=86,
        minutes_scan=_pdf("minutes.pdf"),
        lending=D("600000"),
        equity=D("200000"),
        cooperative=D("200000"),
        actor=village_user,
    )
    notice = notices.notice_issue(kind=services.NOTICE_KIND, year=year, village=village, actor=village_user)
    notices.notice_post(notice=notice, actor=village_user, photo=_photo())
    notices.notice_close(
        notice=notice, actor=village_user, today=notice.period_end + datetime.timedelta(days=1)
    )
    services.plan_approve(plan=plan, actor=township_user)
    plan.refresh_from_db()
    services.implementation_record(plan=plan, scan=_pdf("implementation.pdf"), actor=township_user)
    services.implementation_file(plan=plan, filed_on=datetime.date(year, 4, 20), actor=city)
    households = _households(village, 7)
    group = services.group_create(
        village=village,
        name="第一联保小组",
        households=households[:5],
        formed_on=datetime.date(year, 4, 1),
        actor=village_user,
    )
    start = datetime.date(year, 5, 1)
    loans = []
    for household, amount, frequency, term in zip(
        households[:5],
        ("12000", "8000", "20000", "5000", "15000"),
        ("monthly", "monthly", "quarterly", "bullet", "monthly"),
        (12, 12, 24, 10, 12),
        strict=True,
    ):
        loan = services.loan_propose(
            group=group, household=household, principal=D(amount), term_months=term, frequency=frequency,
            purpose="养殖藏香猪" if frequency != "bullet" else "种植玛咖，秋收后一次还本",
            actor=village_user, year=year, today=start,
        )  # fmt: skip
        loans.append(services.loan_contract_attach(loan=loan, scan=_pdf(), actor=village_user))
    # One 放款 batch: the village submits it, the township approves it and records the payment.
    batch = loan_batches.loan_batch_create(village=village, loans=loans, actor=village_user)
    approval.advance([batch], action=loan_batches.SUBMIT, actor=village_user)
    approval.advance([batch], action=loan_batches.APPROVE, actor=township_user)
    loan_batches.loan_batch_pay(batch=batch, actor=township_user, paid_on=start)
    loans = [Loan.objects.get(pk=loan.pk) for loan in loans]
    services.repayment_record(
        loan=loans[0], amount=D("1000"), paid_on=datetime.date(year, 6, 1), actor=village_user
    )
    services.repayment_record(
        loan=loans[0],
        amount=D("1000"),
        paid_on=datetime.date(year, 7, 3),
        actor=village_user,
        payer=households[1],
    )
    services.loan_reschedule(
        loan=loans[2], term_months=12, frequency="bullet", reason="冰雹灾害，改为秋收后一次还本",
        effective_on=datetime.date(year, 8, 1), actor=township_user,
    )  # fmt: skip
    write_off = services.loan_write_off(
        loan=loans[3], reason="户主因病去世，家庭无力偿还", actor=township_user
    )
    services.write_off_recover(
        write_off=write_off, amount=D("500"), received_on=datetime.date(year, 11, 15), actor=township_user
    )
    visit = supervision.visit_record(
        village=village, visited_on=datetime.date(year, 6, 20), inspectors="乡政府、村党总支、驻村工作组",
        findings="借款台账未按月登记。", items=[("补登借款台账", datetime.date(year, 7, 5))],
        actor=township_user, photo=_photo(),
    )  # fmt: skip
    supervision.item_close(
        item=visit.items.get(),
        closed_on=datetime.date(year, 7, 4),
        evidence=_pdf("ledger.pdf"),
        actor=village_user,
    )
    supervision.visit_record(
        village=village, visited_on=datetime.date(year, 7, 18), inspectors="乡政府、驻村工作组",
        findings="合作社支出凭证未编号。", items=[("支出凭证按月编号装订", datetime.date(year, 8, 10))],
        actor=township_user,
    )  # fmt: skip
    partner = Counterparty.objects.get_or_create(
        name="香格里拉藏香猪专业合作社", defaults={"kind": "cooperative"}
    )[0]
    stake = equity.stake_invest(
        fund=fund, counterparty=partner, principal=D("150000"), agreement_scan=_pdf(),
        invested_on=datetime.date(year, 5, 10), actor=village_user,
    )  # fmt: skip
    equity.dividend_record(
        stake=stake, year=year, amount=D("9000"), received_on=datetime.date(year, 12, 20),
        shares={households[0]: D("3000"), households[1]: D("3000")}, actor=village_user,
    )  # fmt: skip
    equity.cooperative_record(
        fund=fund, kind="spending", amount=D("80000"), occurred_on=datetime.date(year, 6, 1),
        purpose="购置青稞加工设备", voucher_scan=_pdf(), actor=village_user,
    )  # fmt: skip
    for household, before, after in zip(
        households[:5],
        ("2650", "2480", "3100", "2300", "2900"),
        ("3980", "3720", "4460", "2300", "4150"),
        strict=True,
    ):
        report.income_record(
            fund=fund, household=household, before=D(before), after=D(after), actor=village_user
        )
    year_end = report.report_generate(fund=fund, actor=village_user, today=datetime.date(year, 12, 31))
    report.report_submit(report=year_end, submitted_on=datetime.date(year + 1, 1, 10), actor=township_user)
    report.acceptance_record(
        report=year_end, outcome="passed", note="账实相符，资金滚动使用。",
        accepted_on=datetime.date(year + 1, 2, 20), actor=city,
    )  # fmt: skip
    notices.notice_issue(
        kind=report.REPORT_NOTICE, year=year, village=village, actor=township_user,
        start=datetime.date(year + 1, 1, 15),
    )  # fmt: skip
    return f"村集体经济：{village.name}一年的资金、联保贷款、督查与报告。"
