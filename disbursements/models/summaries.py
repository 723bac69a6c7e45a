"""The dashboard's summary tables: figures a programme's section computed per small area, read by
the pages instead of the registry (issue 14: 2,000,000 households). Derived data, rebuilt by the
worker (`disbursements.summaries`); never a record of money.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from households.models import Township, Village, VillageGroup
from households.scoping import ScopePaths


class DashboardFigure(models.Model):
    """One section's figures for one small area of one year: a 村民小组 (`grain` "group"), a village
    or a township (their allocations), or one cadre's households in one village ("cadre").

    `values` holds the section's columns (counts as integers, money as strings of yuan with two
    decimals); pages add them up per row of their level. Placed for scoping like any other row.
    """

    section = models.CharField(_("看板栏目"), max_length=32)
    year = models.PositiveSmallIntegerField(_("年度"))
    grain = models.CharField(_("汇总单位"), max_length=16)
    township = models.ForeignKey(Township, on_delete=models.CASCADE, related_name="+", verbose_name=_("乡镇"))
    village = models.ForeignKey(
        Village, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("村委会")
    )
    group = models.ForeignKey(
        VillageGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("村民小组"),
    )
    cadre = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("挂包干部"),
    )
    values = models.JSONField(_("数值"), default=dict)

    scope_paths: ClassVar[ScopePaths] = ScopePaths(township="township", village="village", cadre="cadre")

    class Meta:
        verbose_name = _("看板汇总")
        verbose_name_plural = _("看板汇总")
        indexes = [
            models.Index(fields=["section", "year", "grain", "township"], name="dashboard_figure_area"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.section} {self.grain}"


class DashboardState(models.Model):
    """How fresh one township's figures of one year are. `stale` is set (in the writing transaction)
    by whatever changes them, and cleared by the refresh that takes them; `refreshed_at` is when the
    figures shown were read. The row with no township is the year's refresh lock."""

    year = models.PositiveSmallIntegerField(_("年度"))
    township = models.ForeignKey(
        Township, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("乡镇")
    )
    stale = models.BooleanField(_("待更新"), default=True)
    changed_at = models.DateTimeField(_("数据变动时间"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("数据截至"), null=True, blank=True)

    class Meta:
        verbose_name = _("看板汇总状态")
        verbose_name_plural = _("看板汇总状态")
        constraints = [
            models.UniqueConstraint(fields=["year", "township"], name="one_dashboard_state_per_township"),
            models.UniqueConstraint(
                fields=["year"], condition=Q(township__isnull=True), name="one_dashboard_lock_per_year"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.township_id}"
