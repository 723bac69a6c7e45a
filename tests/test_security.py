"""Production hardening (issue 10): the client address behind a proxy, the Content-Security-Policy,
error pages in Chinese that keep the reason, read-only roles starting no writing jobs, sheets that
print a name as written, and downloads named in Chinese (RFC 6266)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory, override_settings
from django.views.defaults import server_error
from pypdf import PdfReader

from disbursements import notices
from households.models import Household, Role, Township

from .factories import make_user

pytestmark = pytest.mark.django_db


def fail_logins(username: str, **meta: Any) -> int:
    status = 0
    for _ in range(6):
        response = Client().post("/admin/login/", {"username": username, "password": "wrong"}, **meta)
        status = response.status_code
    return status


def logs_in(username: str, **meta: Any) -> bool:
    response = Client().post("/admin/login/", {"username": username, "password": "pw-for-tests-only"}, **meta)
    return response.status_code == 302


def test_without_a_proxy_a_forged_forwarded_header_locks_nobody_else() -> None:
    make_user(Role.TOWNSHIP, "victim")
    # The attacker claims to be the victim's office in X-Forwarded-For: only REMOTE_ADDR counts.
    fail_logins("victim", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert logs_in("victim", REMOTE_ADDR="198.51.100.7")
    assert not logs_in("victim", REMOTE_ADDR="203.0.113.9")  # the attacker's own address is locked


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_each_client_is_told_apart_and_cannot_pose_as_another() -> None:
    make_user(Role.TOWNSHIP, "victim")
    proxy = "10.0.0.2"  # every request reaches Django from the proxy; it appends the client it saw
    # An attacker sends a forged header; the proxy appends the attacker's real address after it.
    fail_logins("victim", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9")
    assert logs_in("victim", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert not logs_in("victim", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.9")
    # Without the proxy's entry (a request that did not come through it) only the connection counts.
    assert not logs_in("victim", REMOTE_ADDR="203.0.113.9")


def test_pages_carry_a_content_security_policy_and_inline_scripts_its_nonce(
    city_year: dict[str, Any],
) -> None:
    cadre = city_year["cadres"]["李明"]
    client = Client()
    client.force_login(cadre)
    household = Household.objects.get(code="H1")
    response = client.get(f"/cadre/households/{household.pk}/?year=2017")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)  # type: ignore[union-attr]
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert scripts and all(f'nonce="{nonce}"' in attrs or "src=" in attrs for attrs in scripts)
    assert "onclick=" not in response.content.decode()
    admin = client.get("/admin/")
    assert "Content-Security-Policy" in admin


def test_error_pages_are_in_chinese_and_keep_the_reason(city_year: dict[str, Any]) -> None:
    cadre = city_year["cadres"]["李明"]
    client = Client()
    client.force_login(cadre)
    other = Household.objects.get(code="T1")  # 张伟's, in 虎跳峡镇
    missing = client.get(f"/cadre/households/{other.pk}/?year=2017")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert "没有这一户，或不在您的管辖范围内。" in page and "Not Found" not in page
    auditor = Client()
    auditor.force_login(make_user(Role.AUDITOR, "audit"))
    refused = auditor.get("/admin/subsidies/grantline/allocate/?year=2017")
    assert refused.status_code == 403 and "没有权限" in refused.content.decode()
    crashed = server_error(RequestFactory().get("/"))
    assert crashed.status_code == 500 and "系统出错了" in crashed.content.decode()


def test_read_only_roles_start_no_batch_print(city_year: dict[str, Any]) -> None:
    jiantang = Township.objects.get(name="建塘镇")
    for role in (Role.AUDITOR, Role.APPROVER):
        user = make_user(role)
        with pytest.raises(ValidationError, match="不能发起批量打印任务"):
            notices.print_job_start(kind="grant", year=2017, township=jiantang, actor=user)
        client = Client()
        client.force_login(user)
        form = client.get("/admin/disbursements/notice/print/").content.decode()
        assert 'name="village"' in form and 'name="township"' not in form
        forged = client.post(
            "/admin/disbursements/notice/print/", {"kind": "grant", "year": 2017, "township": jiantang.pk}
        )
        assert forged.status_code == 200 and not forged.has_header("Location")
    from households.models import Job

    assert not Job.objects.exists()


def test_the_commitment_letter_prints_any_name_as_written(city_year: dict[str, Any]) -> None:
    household = Household.objects.get(code="H1")
    hostile = '</style><b>"=x-1'
    Household.objects.filter(pk=household.pk).update(head_name=hostile)
    client = Client()
    client.force_login(city_year["cadres"]["李明"])
    plan = city_year["plans"]["H1"]
    response = client.get(f"/cadre/plans/{plan.pk}/commitment.pdf")
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert f"户主 {hostile}" in text and "u003C" not in text
    disposition = response["Content-Disposition"]
    assert (
        disposition.lower().startswith("inline; filename*=utf-8''")
        and "%E5%88%B0%E6%88%B7%E6%89%BF%E8%AF%BA%E4%B9%A6" in disposition
    )
