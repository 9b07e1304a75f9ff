"""The words and buttons of tip-off messages, in any language. No Telegram import.

Everything a team sees is built here from `CardFacts`, which carries the reporter's
name only when the report is not anonymous: an anonymous reporter cannot leak into a
card, a status line or an escalation, because their name is never loaded for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import LANGUAGES, N_, Translate, translator
from bot.tipoffs import callbacks as cb
from bot.tipoffs.categories import CATEGORIES, Emergency, parse_category
from bot.tipoffs.models import TipOffStatus
from broadcasts import OutgoingMessage

STATUS_LABELS = {
    TipOffStatus.NEW: N_("waiting to be claimed"),
    TipOffStatus.CLAIMED: N_("being handled"),
    TipOffStatus.RESOLVED: N_("resolved"),
    TipOffStatus.REFERRED: N_("passed to the police"),
    TipOffStatus.REJECTED: N_("closed without action"),
}


@dataclass(frozen=True)
class CardFacts:
    """What a team is told about a report (never who an anonymous reporter is)."""

    tipoff_id: int
    reference: str
    category: str
    urgent: bool
    description: str
    has_voice: bool
    photo_count: int
    place: str | None  # area name(s)
    address: str | None
    latitude: float | None
    longitude: float | None
    created_at: datetime
    status: TipOffStatus
    team_name: str | None
    reporter_name: str | None  # None when anonymous
    reporter_phone: str | None  # only when the reporter chose to share it
    claimed_by_name: str | None = None
    outcome_note: str | None = None


def category_label(category: str | None, _: Translate) -> str:
    parsed = parse_category(category)
    if parsed is None:
        return _("Other")
    info = CATEGORIES[parsed]
    return f"{info.emoji} {_(info.label)}"


def local_time(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def describe_place(_: Translate, *, place: str | None, address: str | None,
                   latitude: float | None, longitude: float | None) -> str:
    """The place as one line: the card and the reporter's summary both use it, so what
    the reporter confirms is what the team reads."""
    parts = [p for p in (place, address) if p]
    if latitude is not None and longitude is not None:
        parts.append(_("map pin {lat:.5f}, {lon:.5f}").format(lat=latitude, lon=longitude))
    return " · ".join(parts) if parts else _("not given")


def place_text(facts: CardFacts, _: Translate) -> str:
    return describe_place(_, place=facts.place, address=facts.address,
                          latitude=facts.latitude, longitude=facts.longitude)


def card_text(facts: CardFacts, _: Translate, tz: ZoneInfo) -> str:
    head = _("🔔 New tip-off {reference}").format(reference=facts.reference)
    if facts.urgent:
        head += " " + _("⚠️ URGENT")
    lines = [
        head,
        _("Category: {category}").format(category=category_label(facts.category, _)),
        _("Place: {place}").format(place=place_text(facts, _)),
        _("Reported at: {time}").format(time=local_time(facts.created_at, tz)),
        _("What happened: {description}").format(
            description=facts.description or _("(see the voice message)")),
    ]
    if facts.has_voice:
        lines.append(_("🎤 The reporter's voice message is sent just above."))
    if facts.photo_count:
        lines.append(_("Photos: {count} (sent just above)").format(count=facts.photo_count))
    if facts.reporter_name is None:
        lines.append(_("Reporter: anonymous"))
    elif facts.reporter_phone:
        lines.append(_("Reporter: {name}, phone {phone}").format(name=facts.reporter_name,
                                                                 phone=facts.reporter_phone))
    else:
        lines.append(_("Reporter: {name}").format(name=facts.reporter_name))
    if facts.team_name:
        lines.append(_("Team: {team}").format(team=facts.team_name))
    status = _(STATUS_LABELS[facts.status])
    if facts.claimed_by_name and facts.status is not TipOffStatus.NEW:
        status += " · " + _("claimed by {name}").format(name=facts.claimed_by_name)
    lines.append(_("Status: {status}").format(status=status))
    if facts.outcome_note:
        lines.append(_("Note: {note}").format(note=facts.outcome_note))
    return "\n".join(lines)


def card_buttons(facts: CardFacts, _: Translate) -> tuple[tuple[tuple[str, str], ...], ...]:
    i = facts.tipoff_id
    if facts.status is TipOffStatus.NEW:
        return (
            ((_("✋ Claim"), cb.card(cb.CardAction.CLAIM, i)),
             (_("↪️ Reassign"), cb.card(cb.CardAction.REASSIGN, i))),
            ((_("🚓 Refer to police"), cb.card(cb.CardAction.REFER, i)),
             (_("✖️ Reject"), cb.card(cb.CardAction.REJECT, i))),
        )
    if facts.status is TipOffStatus.CLAIMED:
        return (
            ((_("✅ Resolved"), cb.card(cb.CardAction.RESOLVE, i)),
             (_("🚓 Refer to police"), cb.card(cb.CardAction.REFER, i))),
            ((_("✖️ Reject"), cb.card(cb.CardAction.REJECT, i)),
             (_("↪️ Reassign"), cb.card(cb.CardAction.REASSIGN, i))),
        )
    return ()


def in_all_languages(build: object, default_language: str) -> dict[str, OutgoingMessage]:
    """`build(_)` → OutgoingMessage for each language, the default language first."""
    order = [default_language, *[lang for lang in LANGUAGES if lang != default_language]]
    return {lang: build(translator(lang)) for lang in order}  # type: ignore[operator]


def card_message(facts: CardFacts, _: Translate, tz: ZoneInfo) -> OutgoingMessage:
    return OutgoingMessage(text=card_text(facts, _, tz), buttons=card_buttons(facts, _))


def voice_message(facts: CardFacts, file_id: str, _: Translate) -> OutgoingMessage:
    """The reporter's spoken description, as a voice note (nothing in it names them)."""
    return OutgoingMessage(voice=file_id, text=_("🎤 What the reporter said, for tip-off "
                                                  "{reference}").format(
                                                      reference=facts.reference))


def album_message(facts: CardFacts, file_ids: list[str], _: Translate) -> OutgoingMessage:
    caption = _("📷 Photos for tip-off {reference}").format(reference=facts.reference)
    if len(file_ids) == 1:
        return OutgoingMessage(text=caption, photo=file_ids[0])
    return OutgoingMessage(text=caption, album=tuple(file_ids[:10]))


# -- to the reporter -----------------------------------------------------------------
def emergency_advice(emergency: Emergency, _: Translate) -> str:
    if emergency is Emergency.FIRE:
        return _("🚨 If there is a fire or gas leak now, call 119 first. If someone is "
                 "hurt, call 120. Then come back here to finish the report.")
    if emergency is Emergency.AMBULANCE:
        return _("🚨 If someone is hurt, call 120 for an ambulance first (and 110 if it is "
                 "a crime). Then come back here to finish the report.")
    return _("🚨 If someone is in danger right now, call 110 first. Then come back here "
             "to finish the report.")


def status_update_text(*, reference: str, status: TipOffStatus | None, team_name: str | None,
                       note: str | None, _: Translate, reassigned: bool = False) -> str:
    if reassigned:
        text = _("Your report {reference} has been passed to {team}, who are better placed "
                 "to help.").format(reference=reference, team=team_name or _("another team"))
    elif status is TipOffStatus.CLAIMED:
        text = _("Good news: {team} have taken on your report {reference} and are looking "
                 "into it.").format(reference=reference, team=team_name or _("a team"))
    elif status is TipOffStatus.RESOLVED:
        text = _("Your report {reference} has been dealt with. Thank you for helping keep "
                 "our community safe!").format(reference=reference)
    elif status is TipOffStatus.REFERRED:
        text = _("Your report {reference} has been passed to the police station, who will "
                 "follow it up.").format(reference=reference)
    elif status is TipOffStatus.REJECTED:
        text = _("Your report {reference} was closed without action.").format(
            reference=reference)
    else:
        text = _("There is news about your report {reference}.").format(reference=reference)
    if note:
        text += "\n" + _("Note from the team: {note}").format(note=note)
    return text
