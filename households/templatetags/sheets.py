"""Template filters for the printed sheets (PDF)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Kept as they are in a CSS string; everything else below U+0080 is written as a CSS escape.
PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;_()（）·-")


@register.filter
def css_string(value: object) -> SafeString:
    """`value` as a quoted CSS string, safe inside a <style> element: quotes, backslashes, `<`, `>`,
    `&`, control characters and every other ASCII punctuation are CSS escapes (`\\3c `), so a name
    like `</style><script>` prints as written and never leaves the string. (`escapejs` is for
    JavaScript: inside CSS its `\\u003C` escapes are printed literally as `u003C`.)"""
    out = []
    for char in str(value):
        if char in PLAIN or ord(char) > 0x7F:
            out.append(char)
        else:
            out.append(f"\\{ord(char):x} ")
    return mark_safe('"' + "".join(out) + '"')  # every unsafe character is escaped above
