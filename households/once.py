"""Forms that do their work once: a token rendered into the form and claimed, under a unique
constraint, in the transaction that does the work.

A double click, a resent page or two tabs posting the same form send the same token: the second
claim waits for the first transaction on the unique index and then fails, so the work runs once and
the second request is told so in Chinese. A refusal by the service rolls the claim back with the
work, and the corrected form can be sent again. Pages that record money by a form with no state
change to stop a second copy (a repayment, a dividend) use it; steps that move a record's status
are already refused the second time by the service.

    <input type="hidden" name="{{ once_field }}" value="{{ once_token }}">   (context())
    with transaction.atomic():
        once.claim(request)        # raises ValidationError on a second submission
        service(...)
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from .models import FormSubmission

FIELD = "_once"
MSG_AGAIN = "这张表单已经提交过一次，未重复办理；请到列表中查看结果。"


def context() -> dict[str, str]:
    """What a form's template needs: the field's name and a fresh token."""
    return {"once_field": FIELD, "once_token": uuid.uuid4().hex}


def claim(request: HttpRequest) -> None:
    """Claim the posted form's token for the current transaction (no token: nothing to claim)."""
    token = request.POST.get(FIELD, "")
    if not token:
        return
    if len(token) != 32 or not all(c in "0123456789abcdef" for c in token):
        raise ValidationError(MSG_AGAIN)
    try:
        with transaction.atomic():  # a savepoint: the failed insert leaves the outer transaction usable
            FormSubmission.objects.create(token=token, user=request.user)  # type: ignore[misc]
    except IntegrityError:
        raise ValidationError(MSG_AGAIN) from None
