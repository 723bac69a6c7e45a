"""Test data built the way users build it: through the services and the real import."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from itertools import count
from typing import Any

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from stdnum.cn import ric, uscc

from households.demo import ROSTER_HEADER
from households.models import Organisation, Role, Township, User, Village

_serial = count(1)

# Uploads are checked by their content (households.uploads): the tests upload a real, tiny PDF and JPEG.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def jpeg_bytes(width: int = 8, height: int = 6) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def pdf_upload(name: str = "signed.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES)


def jpeg_upload(name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes())


def id_number(birth: str | None = None, region: str = "533421", seq: int | None = None) -> str:
    seq = seq if seq is not None else next(_serial)
    # The birth day moves every 1,000 numbers, so a long test session never repeats an ID.
    birth = birth or f"198001{1 + (seq // 1000) % 28:02d}"
    body = f"{region}{birth}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def roster_row(**overrides: Any) -> list[Any]:
    n = next(_serial)
    row = {
        "户编号": f"HH{n:06d}",
        "户主姓名": "扎西",
        "身份证号": id_number(seq=n),
        "乡镇": "建塘镇",
        "村委会": "红坡村",
        "村民小组": "一组",
        "家庭人口": 4,
        "劳动力": 2,
        "脱贫年度": 2017,
        "巩固提升": "否",
        "联系电话": "13988776655",
        "挂包干部": "李明",
        "挂包干部电话": "13800000001",
    }
    row.update(overrides)
    return [row[h] for h in ROSTER_HEADER]


def xlsx_bytes(rows: Iterable[Sequence[Any]], header: Sequence[Any] = ROSTER_HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def make_user(role: str, username: str | None = None, **kwargs: Any) -> User:
    if role == Role.TOWNSHIP and "township" not in kwargs:
        kwargs["township"] = Township.objects.get(name="建塘镇")
    if role == Role.VILLAGE and "village" not in kwargs:
        kwargs["village"] = Village.objects.get(name="红坡村")
    if role == Role.CADRE and "phone" not in kwargs:
        kwargs["phone"] = f"139{next(_serial):08d}"
    user = User(username=username or f"{role}{next(_serial)}", role=role, **kwargs)
    user.set_password("pw-for-tests-only")
    user.save()
    return user


def make_organisation(
    name: str, *, township: Township | None = None, kind: str = "cooperative"
) -> Organisation:
    """An organisation of the register (an equity partner, a cooperative …), supervised by 建塘镇 unless told."""
    body = f"93533421MA6K{next(_serial):05d}"
    organisation = Organisation(
        name=name,
        kind=kind,
        operating_model="cooperative" if kind == "cooperative" else "leading",
        credit_code=body + uscc.calc_check_digit(body),
        leader_name="格桑",
        leader_id_number=id_number(),
        township=township or Township.objects.get(name="建塘镇"),
        industry="牦牛养殖",
    )
    organisation.full_clean()
    organisation.save()
    return organisation


def city_year_rows() -> list[list[Any]]:
    """A small city for money tests: 6 eligible households in 红坡村/吉迪村 (建塘镇) held by 李明 and
    王芳, one in 红旗村 (虎跳峡镇) held by 张伟, and X1 who exited in 2015 (not eligible)."""
    return [
        roster_row(户编号="H1", 挂包干部="李明", 挂包干部电话="13800000001"),
        roster_row(户编号="H2", 挂包干部="李明", 挂包干部电话="13800000001"),
        roster_row(户编号="H3", 挂包干部="王芳", 挂包干部电话="13800000002"),
        roster_row(户编号="J1", 村委会="吉迪村", 挂包干部="王芳", 挂包干部电话="13800000002"),
        roster_row(
            户编号="J2",
            村委会="吉迪村",
            脱贫年度=2016,
            巩固提升="是",
            挂包干部="王芳",
            挂包干部电话="13800000002",
        ),
        roster_row(户编号="X1", 脱贫年度=2015, 挂包干部="李明", 挂包干部电话="13800000001"),
        roster_row(
            户编号="T1", 乡镇="虎跳峡镇", 村委会="红旗村", 挂包干部="张伟", 挂包干部电话="13800000003"
        ),
    ]


def sign(plan: Any, *, on: Any = None) -> Any:
    """The household and its cadre sign the plan's 到户承诺书 (scan uploaded by the cadre)."""
    import datetime

    from subsidies import services as plan_services

    return plan_services.commitment_record(
        plan=plan,
        signed_on=on or datetime.date(2017, 4, 1),
        scan=pdf_upload("signed.pdf"),
        actor=plan.household.cadre,
    )
