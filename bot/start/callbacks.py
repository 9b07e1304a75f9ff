"""Callback data of this feature: `lang:<code>`. Anything else is not ours."""

from __future__ import annotations

import re

from bot.i18n import LANGUAGES

LANGUAGE_PATTERN = re.compile(r"^lang:([A-Za-z-]{2,5})$")


def choose_language(language: str) -> str:
    return f"lang:{language}"


def parse_language(data: str) -> str | None:
    """The chosen language, or None for forged or stale data."""
    match = LANGUAGE_PATTERN.match(data)
    if match is None or match.group(1) not in LANGUAGES:
        return None
    return match.group(1)
