"""The cadre's own pages, for a phone in the field: my households, the plan form with a live quote,
the commitment letter (PDF and signed scan). Thin: reads via selectors/scoping, writes via services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from households.masking import mask_id_number
from households.models import Household, Village
from households.pdf import render_pdf
from households.scoping import scoped

from . import rules, services
from .forms import AnalysisForm, CommitmentForm, PlanForm
from .models import GrantLine, HouseholdPlan
from .selectors import batches_for, household_rows, households_by_urgency, urgency_counts

DEFAULT_YEAR = 2017


def _year(request: HttpRequest) -> int:
    try:
        return int(request.GET.get("year", DEFAULT_YEAR))
    except ValueError:
        return DEFAULT_YEAR


def _household(request: HttpRequest, pk: int) -> Household:
    household = (
        scoped(Household.objects.select_related("village__township", "group", "cadre"), request.user)  # type: ignore[arg-type]
        .filter(pk=pk)
        .first()
    )
    if household is None:
        raise Http404("没有这一户，或不在您的管辖范围内。")
    return household


def _plan(request: HttpRequest, pk: int) -> HouseholdPlan:
    plan = (
        scoped(
            HouseholdPlan.objects.select_related(
                "household__village__township", "household__group", "household__cadre", "policy"
            ),
            request.user,
        )  # type: ignore[arg-type]
        .filter(pk=pk)
        .first()
    )
    if plan is None:
        raise Http404("没有这份计划，或不在您的管辖范围内。")
    return plan


# The list's title per role: whose households these are.
LIST_TITLES = {
    "cadre": "我的挂包户",
    "village": "本村贫困户",
    "township": "本乡镇贫困户",
    "city": "全市贫困户",
    "approver": "全市贫困户",
    "auditor": "全市贫困户",
}
PAGE_SIZE = 50


def list_title(user: Any) -> str:
    if user.is_superuser:
        return "全市贫困户"
    return LIST_TITLES.get(getattr(user, "role", ""), "贫困户")


def _terms(year: int) -> rules.Terms | None:
    try:
        return services.policy_for_year(year).terms()
    except ValidationError:
        return None


@login_required
def my_households(request: HttpRequest) -> HttpResponse:
    """The households this user may see, those needing the cadre first, 50 a page, searchable."""
    year = _year(request)
    user: Any = request.user
    search = request.GET.get("q", "").strip()[:32]
    terms = _terms(year)
    everything = households_by_urgency(user, year, terms)
    total, todo = urgency_counts(everything)
    listed = households_by_urgency(user, year, terms, search=search) if search else everything
    paginator = Paginator(listed.select_related("village__township", "group"), PAGE_SIZE)
    if not search:
        paginator.count = total  # already counted (cached_property)
    page = paginator.get_page(request.GET.get("page"))
    may_prepare = getattr(user, "role", "") in ("cadre", "village")
    return render(
        request,
        "subsidies/my_households.html",
        {
            "title": list_title(user),
            "rows": household_rows(list(page.object_list), user, year, terms),
            "page": page,
            "year": year,
            "search": search,
            "total": total,
            "todo": todo,
            "villages": _batch_villages(user) if may_prepare else [],
            "batches": batches_for(user, year),
            "may_prepare": may_prepare,
            "show_township": user.is_superuser
            or getattr(user, "role", "") in ("city", "approver", "auditor"),
        },
    )


def _batch_villages(user: Any) -> list[Village]:
    """The villages of the user's households (a batch is prepared per village)."""
    households = scoped(Household.objects.all(), user).values("village_id")
    return list(Village.objects.filter(pk__in=households).order_by("code"))


@login_required
@require_POST
def prepare_batch(request: HttpRequest) -> HttpResponse:
    """准备拨付批次: the households of one village (that this user holds) for tranche 1 or 2."""
    from .money.batches import batch_prepare

    year = _year(request)
    village = scoped(Village.objects.all(), request.user).filter(pk=request.POST.get("village") or 0).first()  # type: ignore[arg-type]
    if village is None:
        raise Http404("没有这个村，或不在您的管辖范围内。")
    try:
        tranche = int(request.POST.get("tranche", "1"))
        batch = batch_prepare(village=village, year=year, tranche=tranche, actor=request.user)  # type: ignore[arg-type]
    except (ValueError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else "期次应为 1 或 2。"
        return _back_with_error(request, f"/cadre/?year={year}", message)
    from django.contrib import messages

    messages.success(
        request,
        f"已准备批次：{batch}，{batch.line_count} 户，合计 {batch.total:,.2f} 元。"
        "请核对明细，然后点“提交入户核实”。",
    )
    return redirect(reverse("admin:disbursements_batch_change", args=[batch.pk]))


def _quote_context(form: PlanForm, household: Household, year: int) -> dict[str, Any]:
    """The quote for the form's values; the reason the plan is refused; or, for a mistake in what was
    typed (a number, ratios that do not add up), what to correct — never worded as a refusal."""
    form.is_valid()
    # A field that does not parse is a typo; the service's refusal on saving (a non-field error) is
    # not: the quote below gives that refusal again, in its own words.
    typos = [str(e) for field, errors in form.errors.items() if field != NON_FIELD_ERRORS for e in errors]
    if typos:
        return {"problem": "；".join(typos)}
    data = form.cleaned_data
    facts = services.plan_facts(
        crops=data["crops"],
        planting_area=data["planting_area"],
        species=data["species"],
        quantity=data["quantity"],
    )
    try:
        _, quote = services.plan_quote(household=household, year=year, facts=facts, ratios=form.ratios())
    except rules.RatioInvalid as exc:
        return {"problem": str(exc)}
    except (rules.PlanRefused, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        return {"refusal": message}
    return {
        "quote": quote,
        "tranches": zip(("产前", "产中", "产后"), quote.ratios, quote.tranches, strict=True),
    }


def _initial(plan: HouseholdPlan | None) -> dict[str, Any]:
    if plan is None:
        return {"tranche1_percent": 60, "tranche2_percent": 20, "tranche3_percent": 20}
    return {
        "crops": plan.crops,
        "planting_area": plan.planting_area or None,
        "species": plan.species,
        "quantity": rules.number(plan.breeding_quantity) if plan.species else None,
        "custom_ratio": bool(plan.ratio_reason),
        "tranche1_percent": plan.tranche1_percent,
        "tranche2_percent": plan.tranche2_percent,
        "tranche3_percent": plan.tranche3_percent,
        "ratio_reason": plan.ratio_reason,
    }


@login_required
def household_plan(request: HttpRequest, pk: int) -> HttpResponse:
    year = _year(request)
    household = _household(request, pk)
    plan = services.live_plan(household, year)
    may_edit = request.user.has_perm("subsidies.change_householdplan") and (plan is None or plan.is_editable)
    form = PlanForm(request.POST or None, initial=_initial(plan))
    context: dict[str, Any] = {
        "household": household,
        "plan": plan,
        "year": year,
        "may_edit": may_edit,
        "list_title": list_title(request.user),
    }
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            ratios = form.ratios()
            try:
                plan = services.plan_save(
                    household=household,
                    year=year,
                    crops=data["crops"],
                    planting_area=data["planting_area"],
                    species=data["species"],
                    quantity=data["quantity"],
                    ratios=ratios,
                    ratio_reason=data["ratio_reason"] or "",
                    actor=request.user,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect(f"{request.path}?year={year}&saved=1")
    context["form"] = form
    context.update(_quote_context(form, household, year) if form.is_bound else _stored_quote(plan))
    context["species_names"] = _species_names(year)
    context["commitment_form"] = CommitmentForm()
    context.update(_analysis_context(plan))
    context["saved"] = request.method == "GET" and request.GET.get("saved") == "1"
    context["late"] = plan.commitment_late() if plan else False
    return render(request, "subsidies/household_plan.html", context)


def _analysis_context(plan: HouseholdPlan | None) -> dict[str, Any]:
    """The 产业扶持分析表 section: shown after the cycle, once tranche 2 (or, without one, tranche 1)
    has been paid to the household."""
    if plan is None:
        return {}
    paid = set(
        GrantLine.objects.filter(
            household_id=plan.household_id,
            year=plan.year,
            cancelled_at__isnull=True,
            line__payout__isnull=False,
        ).values_list("tranche", flat=True)
    )
    if 1 not in paid or (2 not in paid and plan.tranche2 > 0):
        return {}
    analysis = getattr(plan, "analysis", None)
    initial = {
        "actual_species": plan.species,
        "actual_quantity": plan.breeding_quantity,
        "actual_planting_area": plan.planting_area,
    }
    if analysis is not None:
        initial = {f: getattr(analysis, f) for f in AnalysisForm.base_fields if f != "photo"}
    return {"analysis": analysis, "analysis_form": AnalysisForm(initial=initial)}


@login_required
@require_POST
def analysis_save(request: HttpRequest, pk: int) -> HttpResponse:
    """The cadre files the 产业扶持分析表; the service computes the reward or the shortfall."""
    from .money.settlement import analysis_record

    plan = _plan(request, pk)
    url = f"/cadre/households/{plan.household_id}/?year={plan.year}"
    form = AnalysisForm(request.POST, request.FILES)
    if not form.is_valid():
        return _back_with_error(
            request, url, "；".join(str(e) for errors in form.errors.values() for e in errors)
        )
    data = form.cleaned_data
    try:
        analysis = analysis_record(
            plan=plan,
            actor=request.user,  # type: ignore[arg-type]
            actual_planting_area=data["actual_planting_area"],
            actual_species=data["actual_species"],
            actual_quantity=data["actual_quantity"],
            sales_income=data["sales_income"],
            costs=data["costs"],
            assessment=data["assessment"],
            output=data["output"],
            notes=data["notes"],
            photo=data["photo"],
        )
    except ValidationError as exc:
        return _back_with_error(request, url, exc.messages[0])
    from django.contrib import messages

    messages.success(request, "分析表已保存。" + (analysis.explanation[0] if analysis.explanation else ""))
    return redirect(url)


def _stored_quote(plan: HouseholdPlan | None) -> dict[str, Any]:
    if plan is None:
        return {}
    ratios = (plan.tranche1_percent, plan.tranche2_percent, plan.tranche3_percent)
    tranches = (plan.tranche1, plan.tranche2, plan.tranche3)
    return {"stored": plan, "tranches": zip(("产前", "产中", "产后"), ratios, tranches, strict=True)}


def _species_names(year: int) -> list[str]:
    try:
        return list(services.policy_for_year(year).terms().species)
    except ValidationError:
        return []


@login_required
@require_POST
def quote_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The quote fragment for the plan form's current values (fetched as the cadre types)."""
    household = _household(request, pk)
    form = PlanForm(request.POST)
    return TemplateResponse(
        request, "subsidies/household_plan.html#quote", _quote_context(form, household, _year(request))
    )


@login_required
def commitment_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    household = plan.household
    category = plan.policy.categories.filter(species__name=plan.species).first() if plan.species else None
    pdf = render_pdf(
        "subsidies/commitment_letter.html",
        {
            "plan": plan,
            "household": household,
            "id_masked": mask_id_number(household.id_number),
            "deadline": plan.commitment_deadline,
            "quantity": rules.number(plan.breeding_quantity),
            "unit": category.unit if category else "",
        },
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(
            False, f"到户承诺书-{household.code}-{household.head_name}-{plan.year}.pdf"
        )
        or ""
    )
    return response


@login_required
@require_POST
def commitment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    form = CommitmentForm(request.POST, request.FILES)
    url = f"/cadre/households/{plan.household_id}/?year={plan.year}"
    if form.is_valid():
        try:
            services.commitment_record(
                plan=plan,
                signed_on=form.cleaned_data["signed_on"],
                scan=form.cleaned_data["scan"],
                actor=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            return _back_with_error(request, url, exc.messages[0])
        return redirect(url + "&saved=1")
    return _back_with_error(
        request, url, "；".join(str(e) for errors in form.errors.values() for e in errors)
    )


def _back_with_error(request: HttpRequest, url: str, message: str) -> HttpResponse:
    from django.contrib import messages

    messages.error(request, message)
    return redirect(url)
