"""The organisation programme from registration to payment on the shared machinery (rules.md §7)."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from openpyxl import load_workbook
from pypdf import PdfReader

from disbursements import notices
from disbursements.approval import advance
from disbursements.dashboard import dashboard_for
from disbursements.models import Batch, Entry
from disbursements.payouts import payouts_record
from disbursements.reconcile import reconcile_fund
from enterprises import money, services
from enterprises.models import Agreement, Assessment, Incentive, Organisation
from households.models import Role
from households.scoping import scoped

from ..factories import jpeg_upload, make_user
from .conftest import assess_all, credit_code, sign_up

pytestmark = pytest.mark.django_db


def test_a_legal_entity_needs_a_valid_credit_code(officials: dict[str, Any]) -> None:
    fields = dict(
        name="某公司",
        kind="company",
        operating_model="leading",
        leader_name="张三",
        leader_id_number="",
        industry="松茸",
    )
    from ..factories import id_number

    fields["leader_id_number"] = id_number()
    with pytest.raises(ValidationError, match="须填写统一社会信用代码"):
        services.organisation_register(actor=officials["township"], credit_code="", **fields)
    with pytest.raises(ValidationError, match="GB 32100"):
        services.organisation_register(
            actor=officials["township"], credit_code="91533421MA6K000218", **fields
        )
    made = services.organisation_register(
        actor=officials["township"], credit_code=credit_code("91533421MA6K0002"), **fields
    )
    assert made.township.name == "建塘镇"
    # A large grower is a person: no credit code needed.
    grower = services.organisation_register(
        actor=officials["township"],
        **{**fields, "name": "扎西（种养殖大户）", "kind": "grower", "operating_model": "grower"},
    )
    assert grower.credit_code == ""


def test_a_household_counts_toward_one_organisation_per_year(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    other = services.organisation_register(
        actor=officials["township"],
        name="建塘镇中蜂养殖协会",
        kind="association",
        operating_model="association",
        credit_code=credit_code("51533421MJ0000017"),
        leader_name="次里",
        leader_id_number=fifteen[0].id_number,
        industry="中蜂",
    )
    sign_up(cooperative, fifteen[:1], officials["township"])
    with pytest.raises(ValidationError, match="已计入“香格里拉市高原牦牛养殖专业合作社”的奖补"):
        sign_up(other, fifteen[:1], officials["township"])
    # The household may still sign with the second organisation, without counting toward it.
    (second,) = sign_up(other, fifteen[:1], officials["township"], counts=False)
    assert not second.counts
    assert Agreement.objects.filter(household=fifteen[0]).count() == 2


def test_ways_of_support_come_from_the_policy(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    with pytest.raises(ValidationError, match="帮扶方式“放牧”不在政策列出的方式中"):
        sign_up(cooperative, fifteen[:1], officials["township"], ways=["放牧"])


def test_assessment_qualifies_at_3300_per_capita_only_when_confirmed(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    low, high = sign_up(cooperative, fifteen[:2], officials["township"])
    below = services.assessment_record(actor=officials["township"], agreement=low, income=Decimal("6599.98"))
    assert below.per_capita == Decimal("3299.99") and not below.reaches
    with pytest.raises(ValidationError, match=r"未达到 3,300\.00 元"):
        services.assessments_confirm(actor=officials["township"], assessments=[below])
    above = services.assessment_record(actor=officials["township"], agreement=high, income=Decimal("6600.00"))
    assert above.reaches and not above.qualified
    assert services.incentive_quote(cooperative, 2017).households == 0  # unconfirmed: not counted
    # Only the supervising township records and confirms.
    with pytest.raises(ValidationError, match="监管乡镇（建塘镇）"):
        services.assessments_confirm(actor=officials["other_township"], assessments=[above])
    assert services.assessments_confirm(actor=officials["township"], assessments=[above]) == 1
    assert services.incentive_quote(cooperative, 2017).households == 1


@pytest.mark.parametrize(("confirmed", "amount"), [(9, None), (10, "5000.00"), (12, "6000.00")])
def test_the_incentive_batch_pays_what_the_rules_give(
    fifteen: list[Any],
    officials: dict[str, Any],
    cooperative: Organisation,
    confirmed: int,
    amount: str | None,
) -> None:
    agreements = sign_up(cooperative, fifteen, officials["township"])
    assessments = assess_all(agreements, officials["township"])
    services.assessments_confirm(actor=officials["township"], assessments=assessments[:confirmed])
    if amount is None:
        with pytest.raises(ValidationError, match="没有达到奖补条件"):
            services.incentive_batch_prepare(
                actor=officials["township"], township=cooperative.township, year=2017
            )
        return
    batch = services.incentive_batch_prepare(
        actor=officials["township"], township=cooperative.township, year=2017
    )
    assert batch.total == Decimal(amount) and batch.line_count == 1
    incentive = Incentive.objects.get()
    assert incentive.households == confirmed and incentive.agreements.count() == confirmed


def test_from_assessment_to_payment_with_its_notice_ledger_and_reconcile(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    township, city, approver = officials["township"], officials["city"], officials["approver"]
    agreements = sign_up(cooperative, fifteen, township)
    assessments = assess_all(agreements, township)
    services.assessments_confirm(actor=township, assessments=assessments[:12])
    batch = services.incentive_batch_prepare(actor=township, township=cooperative.township, year=2017)
    assert batch.total == Decimal("6000.00")

    # The 公示 comes before the township's 考核确认.
    with pytest.raises(ValidationError, match="公示"):
        advance([batch], action="org_confirm", actor=township)
    notice = notices.notice_issue(
        kind=money.NOTICE,
        year=2017,
        township=cooperative.township,
        actor=township,
        start=datetime.date(2017, 11, 1),
        batch=batch,
    )
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(notice.pdf.read())).pages)
    assert "香格里拉市高原牦牛养殖专业合作社" in text and "6,000.00" in text
    masked = fifteen[0].id_number[:6] + "********" + fifteen[0].id_number[-4:]
    assert masked in text.replace(" ", "").replace("\n", "") and fifteen[0].id_number not in text
    notices.notice_post(notice=notice, actor=township, photo=jpeg_upload("p.jpg"))
    notices.notice_close(notice=notice, actor=township, today=datetime.date(2017, 11, 20))

    advance([batch], action="org_confirm", actor=township)
    with pytest.raises(ValidationError, match="须由市指挥部办理"):
        advance([batch], action="org_review", actor=approver)
    advance([batch], action="org_review", actor=city)
    advance([batch], action="org_approve", actor=approver)
    result = payouts_record(
        batch=batch,
        actor=officials["city2"],
        paid_on=datetime.date(2017, 12, 1),
        method="bank",
        reference="B001",
    )
    assert result.batch_paid
    cooperative.refresh_from_db()
    assert cooperative.recommended  # 推荐申报 for later projects
    entry = Entry.objects.get(kind=money.E_PAYOUT)
    assert entry.amount == Decimal("6000.00")
    assert (entry.target.fund, entry.target.key) == (money.FUND, f"org:{cooperative.pk}")  # its account
    report = reconcile_fund(year=2017, fund=money.FUND)
    assert report.problems == []

    # A changed incentive amount is caught by reconcile.
    Incentive.objects.update(amount=Decimal("6500.00"))
    assert any("奖补金额与批次明细不符" in p for p in reconcile_fund(year=2017, fund=money.FUND).problems)
    Incentive.objects.update(amount=Decimal("6000.00"))

    # Dashboard rows for the programme.
    board = dashboard_for(city, year=2017)
    table = next(t for t in board.tables if t.section.code == "org_incentive")
    row = next(r for r in table.rows if r.name == "建塘镇")
    assert (row.agreements, row.qualified, row.paid) == (15, 12, Decimal("6000.00"))

    # The organisation list: linked / qualified households, incentive, 推荐申报 filter.
    client = Client()
    client.force_login(township)
    page = client.get("/admin/enterprises/organisation/?recommended=yes").content.decode()
    assert "香格里拉市高原牦牛养殖专业合作社" in page and "6,000.00" in page
    # The 组织带贫考核表.
    response = client.get("/admin/enterprises/organisation/assessment-sheet/?year=2017")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    summary = list(book.worksheets[0].iter_rows(values_only=True))
    assert (
        summary[1][1] == "香格里拉市高原牦牛养殖专业合作社" and summary[1][7] == 12 and summary[1][8] == 6000
    )
    details = list(book.worksheets[1].iter_rows(values_only=True))
    assert len(details) == 16 and "*" in details[1][3]


def test_scoping_of_organisations_and_agreements(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    from households.models import Household

    remote = Household.objects.get(code="T01")
    sign_up(cooperative, fifteen[:2], officials["township"])
    sign_up(cooperative, [remote], officials["township"])  # a household of another township
    other = officials["other_township"]
    # The other township sees the organisation (it has a linked household there) and only its agreement.
    assert list(scoped(Organisation.objects.all(), other)) == [cooperative]
    assert [a.household.code for a in scoped(Agreement.objects.all(), other)] == ["T01"]
    assert scoped(Agreement.objects.all(), officials["township"]).count() == 3
    cadre = fifteen[0].cadre
    assert scoped(Agreement.objects.all(), cadre).count() == 2
    hongpo = make_user(Role.VILLAGE, "hongpo_official")
    assert scoped(Agreement.objects.all(), hongpo).count() == 2
    # A cadre reads the agreements of their households, and changes nothing.
    client = Client()
    client.force_login(cadre)
    assert client.get("/admin/enterprises/agreement/").status_code == 200
    assert client.get("/admin/enterprises/agreement/add/").status_code == 403
    assert not Assessment.objects.exists()


def test_admin_pages_render_in_chinese_for_the_township(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    agreements = sign_up(cooperative, fifteen[:3], officials["township"])
    assess_all(agreements, officials["township"])
    client = Client()
    client.force_login(officials["township"])
    for url in (
        "/admin/enterprises/organisation/",
        f"/admin/enterprises/organisation/{cooperative.pk}/change/",
        "/admin/enterprises/organisation/add/",
        "/admin/enterprises/agreement/",
        "/admin/enterprises/agreement/add/",
        "/admin/enterprises/assessment/",
        "/admin/enterprises/assessment/add/",
        "/admin/enterprises/incentive/",
        "/admin/enterprises/organisation/incentive-batch/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/enterprises/organisation/{cooperative.pk}/change/").content.decode()
    assert "帮扶协议与考核" in page and "考核合格 0 户" in page
    assert cooperative.leader_id_number not in page  # masked


def test_payment_needs_the_organisations_bank_account(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    Organisation.objects.filter(pk=cooperative.pk).update(bank_account="")
    agreements = sign_up(cooperative, fifteen[:10], officials["township"])
    services.assessments_confirm(
        actor=officials["township"], assessments=assess_all(agreements, officials["township"])
    )
    batch = services.incentive_batch_prepare(
        actor=officials["township"], township=cooperative.township, year=2017
    )
    Batch.objects.filter(pk=batch.pk).update(status="approved")
    with pytest.raises(ValidationError, match="没有登记银行账号"):
        payouts_record(
            batch=batch, actor=officials["city"], paid_on=datetime.date(2017, 12, 1), method="bank"
        )


def test_the_printed_agreement_has_both_parties_and_masked_numbers(
    fifteen: list[Any], officials: dict[str, Any], cooperative: Organisation
) -> None:
    (agreement,) = sign_up(cooperative, fifteen[:1], officials["township"])
    client = Client()
    client.force_login(officials["township"])
    response = client.get(f"/admin/enterprises/agreement/{agreement.pk}/pdf/")
    assert response.status_code == 200
    pdf = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1  # one sheet to sign
    text = "".join(reader.pages[0].extract_text().split())
    assert (
        "甲方（带贫组织）" in text and "乙方（贫困户）" in text and "香格里拉市高原牦牛养殖专业合作社" in text
    )
    assert "乙方（签字或按手印）" in text and "订单种植/养殖、技术指导" in text
    assert fifteen[0].id_number not in text and fifteen[0].id_number[:6] + "********" in text
    # Someone of another township cannot print it.
    client.force_login(officials["other_township"])
    assert client.get(f"/admin/enterprises/agreement/{agreement.pk}/pdf/").status_code == 404


def test_the_incentive_batch_takes_a_constant_number_of_queries(
    fifteen: list[Any], officials: dict[str, Any]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from enterprises.models import IncentivePolicy

    from ..factories import id_number

    IncentivePolicy.objects.filter(year=2017).update(minimum=1, base=Decimal("100.00"))
    IncentivePolicy.objects.create(
        year=2018, threshold=Decimal("3300"), base=Decimal("100.00"), step=Decimal("50.00"), minimum=1
    )
    township = officials["township"]

    def organisations(n: int, prefix: str) -> list[Organisation]:
        return [
            services.organisation_register(
                actor=township,
                name=f"{prefix}{i}",
                kind="grower",
                operating_model="grower",
                leader_name="测试",
                leader_id_number=id_number(),
                industry="中药材",
                bank_account="6228480000000009",
            )
            for i in range(n)
        ]

    def run(year: int, orgs: list[Organisation], households: list[Any]) -> int:
        for org, household in zip(orgs, households, strict=True):
            agreement = services.agreement_create(
                actor=township,
                organisation=org,
                household=household,
                year=year,
                ways=["技术指导"],
                industry="中药材",
                signed_on=datetime.date(year, 3, 1),
                starts_on=datetime.date(year, 3, 1),
                ends_on=datetime.date(year, 12, 31),
            )
            assessment = services.assessment_record(
                actor=township, agreement=agreement, income=Decimal("8000")
            )
            services.assessments_confirm(actor=township, assessments=[assessment])
        with CaptureQueriesContext(connection) as queries:
            batch = services.incentive_batch_prepare(actor=township, township=orgs[0].township, year=year)
        assert batch.line_count == len(orgs)
        return len(queries.captured_queries)

    assert run(2017, organisations(2, "甲"), fifteen[:2]) == run(2018, organisations(6, "乙"), fifteen[2:8])
