"""Issue 10: one upload policy for every file field, checked by content through every door.

The hostile corpus is generated here, nothing is committed: HTML renamed `.png`, an SVG with a
script, a header-only PDF stub, a truncated JPEG, PNGs declaring 30,000 × 30,000 and 10,000 × 10,000
pixels (decompression bombs), a 20 MB upload (a declared size, never allocated); and the good files:
a small PNG, a real PDF (pypdf), a WebP, a 4,000 × 3,000 phone photo with EXIF orientation 6 and GPS.
"""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.db.migrations.writer import MigrationWriter
from django.db.models.fields.files import FieldFile
from django.test import Client
from django.test.utils import isolate_apps
from django.urls import reverse
from PIL import Image
from pypdf import PdfWriter

from disbursements import notices
from disbursements.approval import advance
from disbursements.models import Batch, Notice, Payout, Transition
from disbursements.payouts import payout_attach_receipt
from households import files
from households.models import Household, Role, User, Village
from households.uploads import PDF, PHOTO, SCAN, UploadValidator, clean_upload, field_policy
from subsidies import services as plan_services
from subsidies.models import BenefitAnalysis, CommitmentLetter, EquityInvestment, HouseholdPlan
from subsidies.money import services, settlement

from ..factories import city_year_rows, make_organisation, make_user

pytestmark = pytest.mark.django_db
DAY = datetime.date(2017, 6, 1)
MB = 1024 * 1024

RED, BLUE = (255, 0, 0), (0, 0, 255)


# --- the corpus ------------------------------------------------------------------------------------


def png_bytes(width: int = 8, height: int = 6) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), RED).save(out, "PNG")
    return out.getvalue()


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), RED).save(out, "WEBP")
    return out.getvalue()


def photo_bytes(width: int = 4000, height: int = 3000, orientation: int = 6) -> bytes:
    """A phone photo: red left half, blue right half, EXIF orientation and the GPS position of the shot."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: the camera was held upright, the pixels lie on their side
    exif[0x010F] = "Phone"
    exif[0x8825] = {1: "N", 2: (27.0, 49.0, 30.0), 3: "E", 4: (99.0, 42.0, 10.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header claims `width` × `height` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


HTML = b"<!DOCTYPE html><html><body><script>fetch('/admin/')</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


class Declared(SimpleUploadedFile):
    """An upload that declares `size` bytes and may not be read: the size must be refused first."""

    def __init__(self, name: str, size: int) -> None:
        super().__init__(name, b"%PDF-1.4")
        self.size = size

    def read(self, *args: Any) -> bytes:
        raise AssertionError("read before the size was checked")


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


# name, the upload, what a SCAN field says (label + …), what a PHOTO field says
CORPUS: list[tuple[str, Callable[[], SimpleUploadedFile], str, str]] = [
    (
        "HTML renamed .png",
        lambda: upload("回执.png", HTML),
        "文件不是有效的 PDF 或图片（JPG/PNG/WebP），请重新扫描后上传。",
        "文件不是有效的图片（JPG/PNG/WebP），请重新拍摄后上传。",
    ),
    (
        "SVG with a script",
        lambda: upload("board.svg", SVG),
        "文件不是有效的 PDF 或图片（JPG/PNG/WebP），请重新扫描后上传。",
        "文件不是有效的图片（JPG/PNG/WebP），请重新拍摄后上传。",
    ),
    (
        "PDF header without %%EOF",
        lambda: upload("signed.pdf", b"%PDF-1.4 test"),
        "文件不是有效的 PDF 或图片（JPG/PNG/WebP），请重新扫描后上传。",
        "文件不是有效的图片（JPG/PNG/WebP），请重新拍摄后上传。",
    ),
    (
        "truncated JPEG",
        lambda: upload("cut.jpg", photo_bytes(640, 480)[:3000]),
        "文件不是有效的 PDF 或图片（JPG/PNG/WebP），请重新扫描后上传。",
        "文件不是有效的图片（JPG/PNG/WebP），请重新拍摄后上传。",
    ),
    (
        "decompression bomb 30000 × 30000",
        lambda: upload("bomb.png", png_declaring(30000, 30000)),
        "图片像素过多（超过 8947 万像素），无法处理，请缩小后重新上传。",
        "图片像素过多（超过 8947 万像素），无法处理，请缩小后重新上传。",
    ),
    (
        "20 MB",
        lambda: Declared("huge.pdf", 20 * MB),
        "文件过大（20.0 MB），不能超过 15 MB。",
        "文件过大（20.0 MB），不能超过 15 MB。",
    ),
]


def media_files(settings: Any) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@contextmanager
def refused(message: str) -> Iterator[None]:
    with pytest.raises(ValidationError) as caught:
        yield
    assert caught.value.messages == [message]


def stored_image(file: Any) -> Image.Image:
    file.open("rb")
    try:
        image = Image.open(io.BytesIO(file.read()))
        image.load()
        return image
    finally:
        file.close()


# --- the state, built through the services ----------------------------------------------------------


@pytest.fixture
def city(import_rows: Any) -> dict[str, Any]:
    """红坡村 (建塘镇): H1 (猪 3) and H2 (羊 6), held by 李明, plans signed with a real PDF scan."""
    assert import_rows(city_year_rows()).ok
    liming = User.objects.get(role=Role.CADRE, name="李明")
    plans = {}
    for code, species, quantity in (("H1", "猪", 3), ("H2", "羊", 6)):
        household = Household.objects.get(code=code)
        plans[code] = plan_services.plan_save(
            household=household, year=2017, species=species, quantity=Decimal(quantity), actor=liming
        )
        plan_services.commitment_record(
            plan=plans[code],
            signed_on=datetime.date(2017, 4, 1),
            scan=upload("signed.pdf", pdf_bytes()),
            actor=liming,
        )
    services.allocate(year=2017, actor=None)
    return {
        "cadre": liming,
        "plans": plans,
        "hongpo": Village.objects.get(name="红坡村"),
        "village_user": make_user(Role.VILLAGE, "hongpo_official"),
        "township_user": make_user(Role.TOWNSHIP, "jiantang_official"),
        "city_user": make_user(Role.CITY, "city_official"),
        "approver": make_user(Role.APPROVER, "leader"),
    }


def submitted(data: dict[str, Any], tranche: int) -> Batch:
    batch = services.batch_prepare(village=data["hongpo"], year=2017, tranche=tranche, actor=data["cadre"])
    advance([batch], action="submit", actor=data["cadre"])
    return batch


def paid(data: dict[str, Any], tranche: int) -> Batch:
    batch = submitted(data, tranche)
    advance([batch], action="verify", actor=data["village_user"])
    advance([batch], action="township_review", actor=data["township_user"])
    advance([batch], action="city_review", actor=data["city_user"])
    advance([batch], action="approve", actor=data["approver"])
    services.payouts_record(batch=batch, actor=data["cadre"], paid_on=DAY)
    return batch


# --- the policy itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "kind", "stored_as"),
    [
        ("scan.png", png_bytes(), SCAN, "scan.png"),
        ("png-named.jpg", png_bytes(), PHOTO, "png-named.png"),
        ("photo.webp", webp_bytes(), PHOTO, "photo.webp"),
        ("signed.pdf", pdf_bytes(), SCAN, "signed.pdf"),
        ("pdf-named.jpg", pdf_bytes(), SCAN, "pdf-named.pdf"),
        ("trailing.pdf", pdf_bytes() + b"\r\n  \n", PDF, "trailing.pdf"),
    ],
)
def test_good_files_pass_and_are_named_for_what_they_are(
    name: str, content: bytes, kind: Any, stored_as: str
) -> None:
    checked = clean_upload(upload(name, content), kind, "附件")
    assert checked.name == stored_as
    if stored_as.endswith(".pdf"):
        assert checked.read() == content  # a PDF is stored as it came
    else:
        Image.open(checked).verify()


@pytest.mark.parametrize(("case", "make", "scan_says", "photo_says"), CORPUS, ids=[c[0] for c in CORPUS])
def test_the_hostile_corpus_is_refused_for_every_kind(
    case: str, make: Callable[[], SimpleUploadedFile], scan_says: str, photo_says: str
) -> None:
    with refused(f"回执扫描件：{scan_says}"):
        clean_upload(make(), SCAN, "回执扫描件")
    with refused(f"张贴照片：{photo_says}"):
        clean_upload(make(), PHOTO, "张贴照片")
    with refused(f"回执扫描件：{scan_says}"):  # the model field's validator says the same
        UploadValidator(SCAN, "回执扫描件")(make())


def test_a_photo_field_refuses_a_pdf_and_a_pdf_field_refuses_an_image() -> None:
    with refused("张贴照片：文件不是有效的图片（JPG/PNG/WebP），请重新拍摄后上传。"):
        clean_upload(upload("board.pdf", pdf_bytes()), PHOTO, "张贴照片")
    with refused("公示 PDF：文件不是有效的 PDF，请重新生成。"):
        clean_upload(upload("notice.pdf", png_bytes()), PDF, "公示 PDF")
    with refused("张贴照片：文件是空的，请重新拍摄后上传。"):
        clean_upload(upload("empty.jpg", b""), PHOTO, "张贴照片")


def test_a_truncated_jpeg_is_refused_even_where_pillow_tolerates_truncation(monkeypatch: Any) -> None:
    """WeasyPrint sets `ImageFile.LOAD_TRUNCATED_IMAGES = True` for the whole process when imported."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    whole = photo_bytes(640, 480)
    for cut in (whole[:3000], whole[: len(whole) * 9 // 10], whole[:-2]):
        with refused("张贴照片：文件不是有效的图片（JPG/PNG/WebP），请重新拍摄后上传。"):
            clean_upload(upload("cut.jpg", cut), PHOTO, "张贴照片")
    assert clean_upload(upload("whole.jpg", whole), PHOTO, "张贴照片").name == "whole.jpg"


def test_a_bomb_below_pillows_hard_limit_is_refused_too() -> None:
    """10,000 × 10,000 is over `Image.MAX_IMAGE_PIXELS` but under twice it, where Pillow only warns."""
    assert Image.MAX_IMAGE_PIXELS and Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 < 2 * Image.MAX_IMAGE_PIXELS
    with refused("张贴照片：图片像素过多（超过 8947 万像素），无法处理，请缩小后重新上传。"):
        clean_upload(upload("bomb.png", png_declaring(10_000, 10_000)), PHOTO, "张贴照片")


def test_the_size_limit_comes_from_settings_and_is_checked_before_reading(settings: Any) -> None:
    settings.UPLOAD_LIMITS = {**settings.UPLOAD_LIMITS, "max_mb": {"photo": 10}}
    with refused("张贴照片：文件过大（12.3 MB），不能超过 10 MB。"):
        clean_upload(Declared("phone.jpg", int(12.3 * MB)), PHOTO, "张贴照片")
    with refused("回执扫描件：文件过大（16.0 MB），不能超过 15 MB。"):
        clean_upload(Declared("scan.pdf", 16 * MB), SCAN, "回执扫描件")


def test_a_phone_photo_is_stored_upright_smaller_and_without_exif() -> None:
    checked = clean_upload(upload("IMG_2041.JPG", photo_bytes()), PHOTO, "张贴照片")
    assert checked.name == "IMG_2041.jpg"
    image = Image.open(checked)
    assert image.format == "JPEG" and image.size == (1800, 2400)  # turned upright, longest side 2,400
    assert image.getpixel((900, 20)) == pytest.approx(RED, abs=8)  # the left half is now on top
    assert image.getpixel((900, 2380)) == pytest.approx(BLUE, abs=8)
    assert "exif" not in image.info and not image.getexif()  # no GPS position, no device


def test_the_validator_serialises_for_migrations_and_skips_stored_files() -> None:
    validator = UploadValidator(SCAN, "回执扫描件")
    assert validator.deconstruct() == (
        "households.uploads.UploadValidator",
        ("scan",),
        {"label": "回执扫描件"},
    )
    assert validator == UploadValidator("scan", label="回执扫描件") != UploadValidator(PHOTO, "回执扫描件")
    code, imports = MigrationWriter.serialize(validator)
    assert code == "households.uploads.UploadValidator('scan', label='回执扫描件')"
    assert imports == {"import households.uploads"}
    # A file already stored passed its door; a later save does not read it again (here: it is gone).
    stored = FieldFile(Payout(), Payout._meta.get_field("receipt"), "receipts/2017/1.svg")
    validator(stored)


def test_every_file_field_declares_its_policy_and_registration_refuses_one_without() -> None:
    expected = {
        (CommitmentLetter, "scan"): (SCAN, "承诺书扫描件"),
        (Payout, "receipt"): (SCAN, "回执扫描件"),
        (Transition, "attachment"): (SCAN, "审批附件"),
        (EquityInvestment, "consent_scan"): (SCAN, "入股同意书扫描件"),
        (Notice, "posted_photo"): (PHOTO, "张贴照片"),
        (BenefitAnalysis, "photo"): (PHOTO, "分析表照片"),
        (Notice, "pdf"): (PDF, "公示 PDF"),
    }
    for (model, name), policy in expected.items():
        assert field_policy(model, name) == policy
    registered = {(model, name) for (_, _, name), model in files.FILE_FIELDS.items()}
    assert {key for key in expected} <= registered
    for model, name in registered:
        field_policy(model, name)

    with isolate_apps("households"):

        class Unchecked(models.Model):
            scan = models.FileField(upload_to="x/")

            class Meta:
                app_label = "households"

            def __str__(self) -> str:
                return self.scan.name or ""

        with pytest.raises(ImproperlyConfigured, match="no upload policy"):
            files.register(Unchecked, "scan")


# --- through the services --------------------------------------------------------------------------


def test_commitment_record_refuses_the_corpus_and_stores_a_png_as_png(
    city: dict[str, Any], settings: Any
) -> None:
    plan: HouseholdPlan = city["plans"]["H1"]
    letter = CommitmentLetter.objects.get(plan=plan)
    before = media_files(settings)
    for _case, make, says, _ in CORPUS:
        with refused(f"承诺书扫描件：{says}"):
            plan_services.commitment_record(
                plan=plan, signed_on=datetime.date(2017, 4, 2), scan=make(), actor=city["cadre"]
            )
    assert media_files(settings) == before
    assert CommitmentLetter.objects.get(plan=plan).scan.name == letter.scan.name
    letter = plan_services.commitment_record(
        plan=plan,
        signed_on=datetime.date(2017, 4, 2),
        scan=upload("签字.jpg", png_bytes()),
        actor=city["cadre"],
    )
    assert str(letter.scan.name).endswith(f"{plan.household.code}-{plan.pk}.png")
    assert stored_image(letter.scan).format == "PNG"


def test_payout_receipt_refuses_the_corpus(city: dict[str, Any], settings: Any) -> None:
    batch = paid(city, 1)
    payout = Payout.objects.filter(line__batch=batch).earliest("pk")
    before = media_files(settings)
    for _case, make, says, _ in CORPUS:
        with refused(f"回执扫描件：{says}"):
            payout_attach_receipt(payout=payout, receipt=make(), actor=city["cadre"])
    assert media_files(settings) == before
    payout.refresh_from_db()
    assert not payout.receipt
    stored = payout_attach_receipt(
        payout=payout, receipt=upload("回执.jpg", pdf_bytes()), actor=city["cadre"]
    )
    assert stored.receipt.name == f"receipts/2017/{payout.line_id}.pdf"


def test_notice_photo_refuses_the_corpus_and_keeps_a_phone_photo_upright(
    city: dict[str, Any], settings: Any
) -> None:
    village_user = city["village_user"]
    notice = notices.notice_issue(
        kind="grant", year=2017, village=city["hongpo"], actor=village_user, start=datetime.date(2017, 3, 1)
    )
    before = media_files(settings)
    hostile = [*CORPUS, ("a PDF", lambda: upload("board.pdf", pdf_bytes()), "", CORPUS[0][3])]
    for _case, make, _, says in hostile:
        with refused(f"张贴照片：{says}"):
            notices.notice_post(notice=notice, actor=village_user, photo=make())
    assert media_files(settings) == before
    notice.refresh_from_db()
    assert notice.status == Notice.Status.ISSUED and not notice.posted_photo
    posted = notices.notice_post(notice=notice, actor=village_user, photo=upload("board.jpg", photo_bytes()))
    assert posted.status == Notice.Status.POSTED
    image = stored_image(posted.posted_photo)
    assert image.size == (1800, 2400) and not image.getexif()


def test_equity_consent_scan_refuses_the_corpus_and_nothing_moves(
    city: dict[str, Any], settings: Any
) -> None:
    partner = make_organisation("香格里拉市高原牦牛养殖专业合作社")
    household = Household.objects.get(code="H2")
    before = media_files(settings)

    def invest(scan: Any) -> EquityInvestment:
        return settlement.equity_invest(
            household=household,
            year=2017,
            partner=partner,
            agreement="入股协议 2017-001",
            consent_scan=scan,
            invested_on=DAY,
            actor=city["cadre"],
        )

    for _case, make, says, _ in CORPUS:
        with refused(f"入股同意书扫描件：{says}"):
            invest(make())
    assert media_files(settings) == before and not EquityInvestment.objects.exists()
    investment = invest(upload("同意书.pdf", pdf_bytes()))
    assert investment.consent_scan.name == "equity/同意书.pdf"


def test_benefit_analysis_photo_refuses_the_corpus(city: dict[str, Any], settings: Any) -> None:
    paid(city, 1)
    paid(city, 2)

    def analyse(photo: Any) -> BenefitAnalysis:
        return settlement.analysis_record(
            plan=city["plans"]["H1"],
            actor=city["cadre"],
            actual_planting_area=Decimal(0),
            actual_species="猪",
            actual_quantity=Decimal(3),
            sales_income=Decimal(5000),
            costs=Decimal(1200),
            assessment="active",
            photo=photo,
        )

    before = media_files(settings)
    for _case, make, _, says in CORPUS:
        with refused(f"分析表照片：{says}"):
            analyse(make())
    assert media_files(settings) == before and not BenefitAnalysis.objects.exists()
    analysis = analyse(upload("猪圈.png", photo_bytes(3000, 2000, orientation=1)))
    assert analysis.photo.name == "analysis/猪圈.jpg"  # a JPEG named .png is stored as .jpg
    assert stored_image(analysis.photo).size == (2400, 1600)


def test_approval_attachment_refuses_the_corpus(city: dict[str, Any], settings: Any) -> None:
    batch = submitted(city, 1)
    status = Batch.objects.get(pk=batch.pk).status
    before = media_files(settings)
    for _case, make, says, _ in CORPUS:
        with refused(f"审批附件：{says}"):
            advance([batch], action="verify", actor=city["village_user"], attachment=make())
    assert media_files(settings) == before
    batch.refresh_from_db()
    assert batch.status == status and not Transition.objects.filter(action="verify").exists()
    advance(
        [batch], action="verify", actor=city["village_user"], attachment=upload("入户核实.jpg", photo_bytes())
    )
    transition = Transition.objects.get(action="verify")
    assert transition.attachment.name == "transitions/入户核实.jpg"


# --- through the admin and the cadre pages -----------------------------------------------------------


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_shows_a_refused_receipt_beside_the_field(city: dict[str, Any], settings: Any) -> None:
    batch = paid(city, 1)
    payout = Payout.objects.filter(line__batch=batch).earliest("pk")
    change = reverse("admin:disbursements_payout_change", args=[payout.pk])
    client = client_for(city["cadre"])
    before = media_files(settings)
    for name, content in (("回执.png", HTML), ("回执.svg", SVG), ("回执.html", HTML)):
        response = client.post(change, {"receipt": upload(name, content)})
        assert response.status_code == 200, name
        errors = response.context["adminform"].form.errors
        assert errors == {
            "receipt": ["回执扫描件：文件不是有效的 PDF 或图片（JPG/PNG/WebP），请重新扫描后上传。"]
        }
        assert "回执扫描件：文件不是有效的 PDF 或图片" in response.content.decode()
    assert media_files(settings) == before
    payout.refresh_from_db()
    assert not payout.receipt
    response = client.post(change, {"receipt": upload("回执.jpg", png_bytes())})
    assert response.status_code == 302
    payout.refresh_from_db()
    assert payout.receipt.name == f"receipts/2017/{payout.line_id}.png"


def test_the_admin_shows_a_refused_consent_scan_on_the_form(city: dict[str, Any]) -> None:
    partner = make_organisation("红坡村种养殖专业合作社")
    response = client_for(city["cadre"]).post(
        reverse("admin:subsidies_equityinvestment_add"),
        {
            "household": Household.objects.get(code="H2").pk,
            "year": 2017,
            "partner": partner.pk,
            "agreement": "入股协议 H2",
            "invested_on": "2017-05-08",
            "consent_scan": upload("同意书.pdf", SVG),
        },
    )
    assert response.status_code == 200
    assert "入股同意书扫描件：文件不是有效的 PDF 或图片" in response.content.decode()
    assert not EquityInvestment.objects.exists()


def test_the_cadre_page_refuses_an_html_scan_with_the_same_words(city: dict[str, Any]) -> None:
    plan = city["plans"]["H1"]
    response = client_for(city["cadre"]).post(
        reverse("cadre:commitment_upload", args=[plan.pk]),
        {"signed_on": "2017-04-02", "scan": upload("signed.png", HTML)},
        follow=True,
    )
    assert response.status_code == 200
    assert (
        "承诺书扫描件：文件不是有效的 PDF 或图片（JPG/PNG/WebP），请重新扫描后上传。"
        in response.content.decode()
    )
