"""Short reference codes like `TX-7K3F`: no 0/O, 1/I/L, easy to read aloud over the phone."""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PREFIX = "TX-"
LENGTH = 4
REFERENCE_PATTERN = re.compile(rf"^{PREFIX}[{ALPHABET}]{{{LENGTH},6}}$")


def new_reference(length: int = LENGTH) -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize_reference(text: str) -> str | None:
    """Accept `tx-7k3f`, `TX 7K3F`, `7K3F`; None if it cannot be a reference."""
    cleaned = re.sub(r"[\s_]", "", text.strip().upper()).replace("TX-", "").replace("TX", "")
    cleaned = cleaned.lstrip("-")
    candidate = PREFIX + cleaned
    return candidate if REFERENCE_PATTERN.match(candidate) else None
