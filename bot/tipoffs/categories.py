"""What a resident can report, which of it is urgent, and whom to call first. No Telegram."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.i18n import N_


class Category(enum.StrEnum):
    SUSPICIOUS = "suspicious"
    THEFT = "theft"
    PYRAMID = "pyramid"
    FRAUD = "fraud"
    ILLEGAL_ADS = "illegal_ads"
    DISPUTE = "dispute"
    HAZARD = "hazard"
    SCHOOL_GATE = "school_gate"
    COUNTERFEIT = "counterfeit"
    OTHER = "other"


class Emergency(enum.StrEnum):
    POLICE = "110"
    FIRE = "119"
    AMBULANCE = "120"


@dataclass(frozen=True)
class CategoryInfo:
    label: str  # an N_() msgid
    emoji: str
    #: Reporting this category always triggers the "call first" advice.
    urgent: bool = False
    emergency: Emergency = Emergency.POLICE


CATEGORIES: dict[Category, CategoryInfo] = {
    Category.SUSPICIOUS: CategoryInfo(N_("Suspicious person or activity"), "👀"),
    Category.THEFT: CategoryInfo(N_("Theft"), "👜"),
    Category.PYRAMID: CategoryInfo(N_("Suspected pyramid scheme"), "🏚"),
    Category.FRAUD: CategoryInfo(N_("Fraud"), "📞"),
    Category.ILLEGAL_ADS: CategoryInfo(N_("Illegal posted ads"), "📄"),
    Category.DISPUTE: CategoryInfo(N_("Neighbour dispute"), "🗣"),
    Category.HAZARD: CategoryInfo(N_("Safety hazard / fire"), "🔥", urgent=True,
                                  emergency=Emergency.FIRE),
    Category.SCHOOL_GATE: CategoryInfo(N_("School-gate safety"), "🏫"),
    Category.COUNTERFEIT: CategoryInfo(N_("Counterfeit goods"), "🏷"),
    Category.OTHER: CategoryInfo(N_("Other"), "📝"),
}

# Words that mean danger now, in the three languages people write in.
_URGENT_WORDS: dict[Emergency, tuple[str, ...]] = {
    Emergency.FIRE: ("着火", "起火", "失火", "火灾", "冒烟", "煤气泄漏", "燃气泄漏", "著火",
                     "火災", "冒煙", "瓦斯", "fire", "smoke", "gas leak"),
    Emergency.AMBULANCE: ("受伤", "流血", "晕倒", "昏迷", "救护车", "受傷", "暈倒", "救護車",
                          "injured", "bleeding", "unconscious", "ambulance"),
    Emergency.POLICE: ("持刀", "打人", "抢劫", "绑架", "砍人", "正在偷", "搶劫", "綁架",
                       "knife", "robbery", "kidnap", "fighting", "break-in", "breaking in"),
}


def urgent_words_in(text: str | None) -> Emergency | None:
    """The emergency the text points to, if any word in it means danger now."""
    if not text:
        return None
    lowered = text.lower()
    for emergency, words in _URGENT_WORDS.items():
        for word in words:
            if word.isascii():
                if re.search(rf"\b{re.escape(word)}\b", lowered):
                    return emergency
            elif word in text:
                return emergency
    return None


def emergency_for(category: str | None, text: str | None) -> Emergency | None:
    """Whom to call first: a word in the text wins over the category's own number."""
    from_text = urgent_words_in(text)
    if from_text is not None:
        return from_text
    try:
        info = CATEGORIES[Category(category)] if category else None
    except ValueError:
        return None
    return info.emergency if info is not None and info.urgent else None


def parse_category(value: str | None) -> Category | None:
    try:
        return Category(value) if value else None
    except ValueError:
        return None
