"""Test settings: fast hashing, no throttling surprises, same database switch as everywhere."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-with-enough-length-and-entropy-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
ALLOWED_HOSTS = ["*"]
WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
