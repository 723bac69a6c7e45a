"""The client's address, as django-axes counts failed logins by it (`AXES_CLIENT_IP_CALLABLE`).

Behind `TRUSTED_PROXY_COUNT` reverse proxies, each of which appends the address it received the
request from to X-Forwarded-For (nginx: `proxy_add_x_forwarded_for`), the client is the n-th entry
from the right: the entries to its left were written by the client itself and prove nothing. With
no proxy (0, the default) only REMOTE_ADDR counts. So no client can pose as another, and nobody can
lock another person's username out of another office (the 30-minute lockout is per user and address).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(chain) < proxies:
        return remote  # not through all our proxies: only the connection itself can be trusted
    candidate = chain[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
