"""Quick start on one machine (the README's run command)."""

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=True)
if not SECRET_KEY:
    SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"
WHITENOISE_AUTOREFRESH = True  # serve from the apps' static folders without collectstatic
