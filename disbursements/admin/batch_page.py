"""The batch page: the place of work for every role and every registered batch kind.

One page shows a batch as the user may see it (its lines in the user's scope, with the programme's
columns from the kind's hooks, open objections against its payees, the transition log) and the
actions the user may take now, as buttons. Each button opens a confirmation page with the count and
the total; the POST goes to the same services the admin actions use (`approval.advance`,
`approval.send_back`, `payouts.payouts_record`), which check role, scope, order and maker-checker
again. Pages decide only what to show.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from households.models import User
from households.scoping import scoped

from ..approval import BATCH_KINDS, PAY, SEND_BACK, Offer, offers
from ..bank_files import bank_summary
from ..models import APPROVED, BankFile, BankFileLine, Batch, BatchLine, Objection, Payout
from ..money import ZERO, to_fen
from ..notices import open_objections_for_batch
from ..payouts import payouts_record

MAX_REASON = 100
MSG_HELD = "公示异议尚未处理"


@dataclass
class LineRow:
    line: BatchLine
    cells: tuple[str, ...]
    objections: list[Objection]  # open 公示 objections against this payee: its payment waits
    in_bank: str = ""  # the bank file holding the line (在途), waiting for the bank's return

    @property
    def state(self) -> str:
        payout = getattr(self.line, "payout", None)
        if self.line.cancelled_at is not None:
            return "已作废（兑现已冲正）"
        if self.in_bank and payout is None:
            return f"在途：已送银行（代发文件 {self.in_bank}），待回盘"
        if payout is not None:
            method = payout.get_method_display()
            reference = f"，凭证 {payout.reference}" if payout.reference else ""
            return f"已兑现 {payout.paid_on:%Y-%m-%d}（{method}{reference}）"
        if self.line.unpaid_reason:
            return f"未兑现：{self.line.unpaid_reason}"
        return "待兑现"

    @property
    def is_open(self) -> bool:
        """Open to be paid now: not paid, not cancelled, not waiting at the bank."""
        return (
            self.line.cancelled_at is None and getattr(self.line, "payout", None) is None and not self.in_bank
        )


def batch_for(request: HttpRequest, pk: int) -> Batch:
    batch = (
        scoped(Batch.objects.select_related("village", "township", "created_by"), request.user)
        .filter(pk=pk)
        .first()
    )  # type: ignore[arg-type]
    if batch is None:
        raise Http404("没有这个批次，或不在您的管辖范围内。")
    return batch


def line_rows(batch: Batch, user: User) -> list[LineRow]:
    """The batch's lines in the user's scope, with the programme's columns and open objections."""
    lines = list(
        scoped(BatchLine.objects.filter(batch=batch), user)
        .select_related("account", "payout")
        .order_by("account__name", "pk")
    )
    details = BATCH_KINDS[batch.kind].hooks.describe_lines(batch, lines)
    held = open_objections_for_batch(batch, user)
    in_bank = dict(
        BankFileLine.objects.filter(
            line__in=[line.pk for line in lines], status=BankFileLine.Status.SENT
        ).values_list("line_id", "bank_file__reference")
    )
    return [
        LineRow(
            line,
            tuple(details.cells.get(line.pk, ("",) * len(details.headers))),
            held.get(line.pk, []),
            in_bank.get(line.pk, ""),
        )
        for line in lines
    ]


def _summary(rows: list[LineRow]) -> tuple[int, Decimal]:
    return len(rows), sum((to_fen(r.line.amount) for r in rows), ZERO)


def batch_page(model_admin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    batch = batch_for(request, pk)
    user: User = request.user  # type: ignore[assignment]
    kind = BATCH_KINDS[batch.kind]
    rows = line_rows(batch, user)
    count, total = _summary(rows)
    open_rows = [r for r in rows if r.is_open]
    next_step = kind.next_step(batch.status)
    return TemplateResponse(
        request,
        "admin/disbursements/batch/page.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Batch._meta,
            "title": str(batch),
            "batch": batch,
            "kind": kind,
            "headers": kind.hooks.describe_lines(batch, []).headers,
            "rows": rows,
            "count": count,
            "total": total,
            "open_count": len(open_rows),
            "open_total": _summary(open_rows)[1],
            "objection_count": sum(1 for r in rows if r.objections),
            "offers": offers(batch, user),
            "next_step": next_step,
            "transitions": batch.transitions.select_related("actor").order_by("at", "pk"),
            "notices": batch.notices.order_by("issued_at"),
            "partial": count != batch.line_count,
            "bank_summary": bank_summary(batch, user),
            "bank_files": scoped(BankFile.objects.filter(batch=batch), user)
            .prefetch_related("returns")
            .order_by("created_at", "pk")
            .distinct(),
            "may_bank": user.role in kind.pay_roles,
            "may_export": user.role in kind.pay_roles and batch.status == APPROVED and bool(open_rows),
        },
    )


def _offer(batch: Batch, user: User, action: str) -> Offer:
    offer = next((o for o in offers(batch, user) if o.action == action), None)
    if offer is None:
        raise PermissionDenied("您现在不能对这个批次办理这一步。")
    return offer


def batch_act(model_admin: Any, request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The confirmation page of a step or a send-back (count, total, note), then the service."""
    batch = batch_for(request, pk)
    user: User = request.user  # type: ignore[assignment]
    if action == PAY:
        return redirect(reverse("admin:disbursements_batch_pay", args=[pk]))
    page = reverse("admin:disbursements_batch_change", args=[pk])
    if request.method == "POST":
        note = request.POST.get("note", "").strip()
        try:
            if action == SEND_BACK:
                from ..approval import send_back

                send_back([batch], actor=user, reason=note)
                messages.success(request, f"已退回：{batch}。")
            else:
                from ..approval import advance

                moved = advance(
                    [batch], action=action, actor=user, note=note, attachment=request.FILES.get("attachment")
                )
                kind = BATCH_KINDS[batch.kind]
                step = kind.step(action)
                done = moved[0]
                messages.success(
                    request,
                    f"{step.label if step else action}：{batch}，"
                    f"{done.line_count} {kind.unit}，合计 {done.total:,.2f} 元。",
                )
            return redirect(page)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
            return redirect(page)
    offer = _offer(batch, user, action)
    rows = line_rows(batch, user)
    return TemplateResponse(
        request,
        "admin/disbursements/batch/act.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Batch._meta,
            "title": f"{offer.label}：{batch}",
            "batch": batch,
            "offer": offer,
            "unit": BATCH_KINDS[batch.kind].unit,
            "send_back": action == SEND_BACK,
            "with_attachment": action == "verify",
            "objections": [r for r in rows if r.objections],
        },
    )


def _parse_date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def batch_pay(model_admin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    """登记兑现: the open lines in the payer's scope, each ticked to pay or left open with a reason;
    the real date, the method and the reference (per batch or per household), one receipt scan.
    The first POST shows the confirmation (count and total); the second records."""
    batch = batch_for(request, pk)
    user: User = request.user  # type: ignore[assignment]
    offer = _offer(batch, user, PAY)
    kind = BATCH_KINDS[batch.kind]
    rows = [r for r in line_rows(batch, user) if r.is_open]
    page = reverse("admin:disbursements_batch_change", args=[pk])
    today = timezone.localdate()
    values: dict[str, Any] = {
        "paid_on": request.POST.get("paid_on") or today.isoformat(),
        "method": request.POST.get("method") or Payout.Method.CASH,
        "reference": request.POST.get("reference", "").strip(),
    }
    errors: list[str] = []
    paying = (
        [r for r in rows if request.POST.get(f"pay-{r.line.pk}") == "1"] if request.method == "POST" else rows
    )
    unpaid = {
        r.line.pk: request.POST.get(f"reason-{r.line.pk}", "").strip()[:MAX_REASON]
        or (MSG_HELD if r.objections else "")
        for r in rows
        if request.method == "POST" and r not in paying
    }
    references = {r.line.pk: request.POST.get(f"ref-{r.line.pk}", "").strip()[:64] for r in rows}
    stage = request.POST.get("stage", "") if request.method == "POST" else ""
    paid_on = _parse_date(values["paid_on"])
    if request.method == "POST":
        if paid_on is None:
            errors.append(f"兑现日期“{values['paid_on'][:20]}”不是有效日期。")
        elif paid_on > today:
            errors.append(f"兑现日期 {paid_on:%Y-%m-%d} 晚于今天，请填写实际兑现的日期。")
        if values["method"] not in Payout.Method.values:
            errors.append("请选择兑现方式。")
        for r in rows:
            if r in paying and r.objections:
                errors.append(
                    f"{r.line.account.name}：有未处理的公示异议，处理后才能兑现；本次请勾掉并写明原因。"
                )
            if r not in paying and not unpaid[r.line.pk]:
                errors.append(f"{r.line.account.name}：未勾选兑现，须写明原因（如外出、拒领）。")
        if not paying and not unpaid:
            errors.append("没有选中要兑现的户。")
    if request.method == "POST" and stage == "record" and not errors and paid_on is not None:
        try:
            result = payouts_record(
                batch=batch,
                actor=user,
                paid_on=paid_on,
                method=values["method"],
                lines=[r.line.pk for r in paying],
                reference=values["reference"],
                references=references,
                receipt=request.FILES.get("receipt"),
                unpaid=unpaid,
            )
        except ValidationError as exc:
            errors.extend(exc.messages)
        else:
            text = f"已登记兑现 {result.paid} {kind.unit}，合计 {result.amount:,.2f} 元"
            if result.left_open:
                text += f"；{result.left_open} {kind.unit}未兑现，已记录原因"
            messages.success(request, text + ("；本批次已全部兑现。" if result.batch_paid else "。"))
            return redirect(page)
    confirming = request.method == "POST" and stage in ("confirm", "record") and not errors
    count, total = _summary(paying)
    return TemplateResponse(
        request,
        "admin/disbursements/batch/pay.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Batch._meta,
            "title": f"{offer.label}：{batch}",
            "batch": batch,
            "unit": kind.unit,
            "items": [
                {
                    "row": r,
                    "pay": r in paying and not (r.objections and request.method != "POST"),
                    "reason": unpaid.get(
                        r.line.pk,
                        (r.line.unpaid_reason or (MSG_HELD if r.objections else ""))
                        if request.method != "POST"
                        else "",
                    ),
                    "ref": references.get(r.line.pk, ""),
                }
                for r in rows
            ],
            "values": values,
            "methods": Payout.Method.choices,
            "method_label": dict(Payout.Method.choices).get(values["method"], ""),
            "today": today.isoformat(),
            "errors": errors,
            "confirming": confirming,
            "count": count,
            "total": total,
            "unpaid_count": len(unpaid),
            "headers": kind.hooks.describe_lines(batch, []).headers,
        },
    )
