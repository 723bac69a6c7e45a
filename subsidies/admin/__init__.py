"""The household grant in the admin: policy, plans and letters (`plans`); its money records (`money`)."""

from . import money, plans

__all__ = ["money", "plans"]
