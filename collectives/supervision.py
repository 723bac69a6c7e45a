"""每月督查: visits with findings and photos, the 督查通知 (PDF) with items to correct by a date,
items closed only with evidence, and the months without a visit flagged."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from households.models import User, Village
from households.pdf import render_pdf
from households.uploads import clean_upload, field_policy

from .models import CorrectionItem, SupervisionVisit

MSG_ROLE = "督查由乡镇登记。"
MSG_EVIDENCE = "整改事项须附佐证材料才能销号。"
MSG_CLOSED = "该整改事项已销号。"


@transaction.atomic
def visit_record(
    *,
    village: Village,
    visited_on: datetime.date,
    inspectors: str,
    findings: str,
    items: list[tuple[str, datetime.date]],
    actor: User,
    photo: UploadedFile | None = None,
) -> SupervisionVisit:
    """The visit, its items, and the 督查通知 PDF rendered from them (kept as issued)."""
    if not actor.is_superuser and (actor.role != "township" or actor.township_id != village.township_id):
        raise ValidationError(MSG_ROLE)
    if not findings.strip() or not inspectors.strip():
        raise ValidationError("须写明督查人员和督查发现。")
    visit = SupervisionVisit(
        village=village,
        visited_on=visited_on,
        inspectors=inspectors.strip(),
        findings=findings.strip(),
        recorded_by=actor,
    )
    if photo:
        visit.photo = clean_upload(photo, *field_policy(SupervisionVisit, "photo"))
    visit.save()
    CorrectionItem.objects.bulk_create(
        [CorrectionItem(visit=visit, text=text, due_on=due) for text, due in items]
    )
    pdf = render_pdf(
        "collectives/supervision_notice.pdf.html", {"visit": visit, "items": list(visit.items.all())}
    )
    visit.notice_pdf.save(f"supervision-{village.code}-{visited_on:%Y%m%d}.pdf", ContentFile(pdf), save=True)
    return visit


@transaction.atomic
def item_close(
    *, item: CorrectionItem, closed_on: datetime.date, evidence: UploadedFile | None, actor: User
) -> CorrectionItem:
    locked = CorrectionItem.objects.select_for_update().select_related("visit__village").get(pk=item.pk)
    village = locked.visit.village
    allowed = (
        actor.is_superuser
        or (actor.role == "village" and actor.village_id == village.pk)
        or (actor.role == "township" and actor.township_id == village.township_id)
    )
    if not allowed:
        raise ValidationError("由本村或本乡镇销号。")
    if locked.closed_on is not None:
        raise ValidationError(MSG_CLOSED)
    if not evidence:
        raise ValidationError(MSG_EVIDENCE)
    locked.evidence = clean_upload(evidence, *field_policy(CorrectionItem, "evidence"))
    locked.closed_on, locked.closed_by = closed_on, actor
    locked.save(update_fields=["evidence", "closed_on", "closed_by"])
    return locked


def months_without_visit(village_ids: list[int], year: int, upto: datetime.date) -> dict[int, list[int]]:
    """Per village, the months of `year` up to `upto`'s previous month that had no visit (one query)."""
    last = upto.month - 1 if upto.year == year else 12
    visited: dict[int, set[int]] = {v: set() for v in village_ids}
    for village_id, day in SupervisionVisit.objects.filter(
        village__in=village_ids, visited_on__year=year
    ).values_list("village", "visited_on"):
        visited[village_id].add(day.month)
    return {v: [m for m in range(1, last + 1) if m not in months] for v, months in visited.items()}
