"""Production profile: PostgreSQL, gunicorn, whitenoise, secure cookies.

Required environment: SECRET_KEY, DATABASE_URL (postgres://…), ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, LOGGING, SECRET_KEY, env

DEBUG = False
if not SECRET_KEY:
    raise ImproperlyConfigured("生产环境必须设置 SECRET_KEY")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if "replica" in DATABASES:  # DATABASE_REPLICA_URL (config/routers.py)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
LOGGING["root"]["level"] = "INFO"  # type: ignore[index]

# The load test (bench/load/, issue 14) drives gunicorn over plain http on 127.0.0.1, where secure
# cookies would never be sent back. This switch turns off only what needs https, and only for a
# server that answers nothing but loopback names: it cannot weaken a real deployment by accident.
if env.bool("LOOPBACK_HTTP_TEST", default=False):
    _hosts = set(env.list("ALLOWED_HOSTS", default=[]))
    if not _hosts or not _hosts <= {"127.0.0.1", "localhost", "::1"}:
        raise ImproperlyConfigured("LOOPBACK_HTTP_TEST 只能用于只应答 127.0.0.1/localhost 的测试服务器")
    SECURE_SSL_REDIRECT = False
    SESSION_COOKIE_SECURE = False
    CSRF_COOKIE_SECURE = False
    SECURE_HSTS_SECONDS = 0
