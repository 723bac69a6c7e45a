"""The ledger: accounts and immutable entries. Balances are derived from entries.

Money moves only through `disbursements.ledger.post`; an entry is never edited or deleted, a
mistake is corrected by a reversing entry. Funds, account kinds and entry kinds are registered by
the programmes (`disbursements.registry`); an account's owner (a household, an organisation, a
village fund) points to its account from the owner's own app.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from households.display import amount
from households.fields import CodeField, money_field
from households.models import Township, Village
from households.scoping import ScopePaths

from ..registry import ACCOUNT_KINDS, ENTRY_KINDS, FUNDS, REVERSAL


def money(verbose: Any, **kwargs: Any) -> models.DecimalField:  # type: ignore[type-arg]
    return money_field(verbose, max_digits=14, **kwargs)


class Account(models.Model):
    """Who holds money of one fund: an area's office (city, township, village), a person holding it
    for payees (a cadre's purse for one village), a payee, or the fund's source.

    `key` names the account within its fund (e.g. ``township:3``, ``cadre:12:40``), so accounts are
    created in bulk and found again without a foreign key per owner type. `township`, `village`
    and `holder` place it for scoping: a cadre sees the accounts they hold.
    """

    fund = CodeField(_("资金"), max_length=24, labels=FUNDS.labels)
    kind = CodeField(_("类别"), max_length=24, labels=ACCOUNT_KINDS.labels)
    key = models.CharField(_("账户键"), max_length=64)
    name = models.CharField(_("名称"), max_length=64)
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("乡镇")
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("村委会")
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("经手人"),
    )

    scope_paths: ClassVar[ScopePaths] = ScopePaths(township="township", village="village", cadre="holder")

    class Meta:
        verbose_name = _("资金账户")
        verbose_name_plural = _("资金账户")
        ordering = ["fund", "kind", "township", "village", "pk"]
        indexes = [
            # A level of a fund's chain read at once (`allocate` reads 267 k purses at 2 M households).
            models.Index(fields=["fund", "kind"], name="account_fund_kind"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["fund", "key"], name="one_account_per_key_in_fund"),
            models.CheckConstraint(condition=~Q(key="") & ~Q(fund="") & ~Q(kind=""), name="account_named"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label}：{self.name}"

    @property
    def kind_label(self) -> str:
        return ACCOUNT_KINDS.label(self.kind)

    @property
    def fund_label(self) -> str:
        return FUNDS.label(self.fund)


class Entry(models.Model):
    """One movement of money from `source` to `target`, within one fund. Immutable."""

    year = models.PositiveSmallIntegerField(_("年度"), db_index=True)
    fund = CodeField(_("资金"), max_length=24, labels=FUNDS.labels)
    kind = CodeField(_("类别"), max_length=24, labels=ENTRY_KINDS.labels)
    source = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="outgoing", verbose_name=_("付出方")
    )
    target = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="incoming", verbose_name=_("收入方")
    )
    amount = money(_("金额"))
    memo = models.CharField(_("摘要"), max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("冲正的分录"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("经办人"),
    )
    created_at = models.DateTimeField(_("记账时间"), default=timezone.now)

    # Either side in the area: a village sees the recoveries its households paid into 乡财政 too.
    scope_paths: ClassVar[ScopePaths] = ScopePaths(
        township=("target__township", "source__township"),
        village=("target__village", "source__village"),
        cadre=("target__holder", "source__holder"),
    )

    class Meta:
        verbose_name = _("资金分录")
        verbose_name_plural = _("资金分录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="entry_amount_positive"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="entry_moves_between_accounts"),
            models.CheckConstraint(
                condition=Q(kind=REVERSAL, reverses__isnull=False)
                | (~Q(kind=REVERSAL) & Q(reverses__isnull=True)),
                name="reversal_names_its_entry",
            ),
        ]
        indexes = [
            models.Index(fields=["year", "kind"]),
            models.Index(fields=["fund", "year"]),
            # The list's default order, read backwards with LIMIT (issue 14: 270 k entries sorted).
            models.Index(fields=["created_at", "id"], name="entry_created_order"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_label} {amount(self.amount)}：{self.source.name} → {self.target.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("ledger entries are immutable; post a reversal instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ledger entries are never deleted; post a reversal instead")

    @property
    def kind_label(self) -> str:
        return ENTRY_KINDS.label(self.kind)


class Reversible(models.Model):
    """A record of money that a business action may reverse once (冲正): who, when and why.

    The record itself is never edited otherwise; its ledger entries are reversed in the same
    transaction, and the record stops counting (e.g. a reversed payout frees the tranche again).
    """

    reversed_at = models.DateTimeField(_("冲正时间"), null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("冲正人"),
    )
    reversal_reason = models.CharField(_("冲正原因"), max_length=200, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=(Q(reversed_at__isnull=True) & Q(reversed_by__isnull=True) & Q(reversal_reason=""))
                | (Q(reversed_at__isnull=False) & Q(reversed_by__isnull=False) & ~Q(reversal_reason="")),
                name="%(app_label)s_%(class)s_reversal_complete",
            ),
        ]

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None
