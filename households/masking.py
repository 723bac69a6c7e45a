"""How personal numbers appear on notices, lists and exports (rules.md §9, our reading)."""


def mask_id_number(value: str) -> str:
    """533421198001011234 → 533421********1234: first 6 and last 4 kept."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """13912345678 → 139****5678: first 3 and last 4 kept."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
