from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from households.uploads import PHOTO, SCAN


class PlanForm(forms.Form):
    crops = forms.CharField(
        label="种植品种",
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "如 青稞、玛咖"}),
    )
    planting_area = forms.DecimalField(
        label="种植面积（亩）",
        max_digits=8,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    species = forms.CharField(
        label="养殖品种",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"list": "species-list", "placeholder": "如 猪、羊、中蜂"}),
    )
    quantity = forms.DecimalField(
        label="养殖数量",
        max_digits=10,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        widget=forms.NumberInput(attrs={"step": "1", "inputmode": "decimal"}),
    )
    custom_ratio = forms.BooleanField(label="调整拨付比例（默认 60:20:20）", required=False)
    tranche1_percent = forms.DecimalField(
        label="产前 %", max_digits=5, decimal_places=2, min_value=Decimal(0), required=False
    )
    tranche2_percent = forms.DecimalField(
        label="产中 %", max_digits=5, decimal_places=2, min_value=Decimal(0), required=False
    )
    tranche3_percent = forms.DecimalField(
        label="产后 %", max_digits=5, decimal_places=2, min_value=Decimal(0), required=False
    )
    ratio_reason = forms.CharField(label="调整理由", max_length=200, required=False)

    def ratios(self) -> tuple[Decimal, Decimal, Decimal] | None:
        data: dict[str, Any] = self.cleaned_data
        if not data.get("custom_ratio"):
            return None
        values = [data.get(f"tranche{i}_percent") for i in (1, 2, 3)]
        return tuple(v if v is not None else Decimal(0) for v in values)  # type: ignore[return-value]


class CommitmentForm(forms.Form):
    signed_on = forms.DateField(label="签订日期", widget=forms.DateInput(attrs={"type": "date"}))
    # The service checks the file by its content (households.uploads); `accept` only helps the phone.
    scan = forms.FileField(
        label="签字/手印扫描件（PDF 或照片）", widget=forms.ClearableFileInput(attrs={"accept": SCAN.accept})
    )

    def clean_signed_on(self) -> Any:
        value = self.cleaned_data["signed_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("签订日期不能晚于今天。")
        return value


class AnalysisForm(forms.Form):
    """产业扶持分析表, as the cadre fills it after the cycle."""

    actual_planting_area = forms.DecimalField(
        label="实际种植面积（亩）", max_digits=8, decimal_places=2, min_value=Decimal(0), initial=0
    )
    actual_species = forms.CharField(label="实际养殖品种", max_length=16, required=False)
    actual_quantity = forms.DecimalField(
        label="实际存栏/出栏数量", max_digits=10, decimal_places=2, min_value=Decimal(0), initial=0
    )
    output = forms.CharField(label="产量", max_length=64, required=False)
    sales_income = forms.DecimalField(
        label="销售收入（元）", max_digits=12, decimal_places=2, min_value=Decimal(0), initial=0
    )
    costs = forms.DecimalField(
        label="成本（元）", max_digits=12, decimal_places=2, min_value=Decimal(0), initial=0
    )
    assessment = forms.ChoiceField(
        label="评价", choices=[("active", "积极发展产业"), ("inactive", "不积极主动进行种养殖产业发展")]
    )
    notes = forms.CharField(label="说明", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    photo = forms.FileField(
        label="照片", required=False, widget=forms.ClearableFileInput(attrs={"accept": PHOTO.accept})
    )
