"""Texts of patrol duty (no Telegram import): reminders, sign-ins, the leader's notices,
/duty and /today, the evening all-clear and the cadres' summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translate
from bot.patrol.service import DutyLine, DutyState, SignIn, SignInResult

STATE_LABELS = {
    DutyState.UPCOMING: N_("⏳ not started"),
    DutyState.WAITING: N_("🕐 not signed in yet"),
    DutyState.ON_DUTY: N_("✅ on duty"),
    DutyState.ON_DUTY_LATE: N_("✅ on duty (late)"),
    DutyState.DONE: N_("☑️ done"),
    DutyState.MISSING: N_("❌ missing"),
    DutyState.COVERED: N_("🔁 covered"),
    DutyState.EXCUSED: N_("🙆 excused"),
}
FOUND_SOMETHING = N_("🔎 Found something")
SIGN_OUT = N_("🏁 Sign out")
SIGN_IN_HERE = N_("📍 Sign in here")
COVERED_BY = N_("🔁 Covered by…")
EXCUSED = N_("🙆 Excused")
ALL_NORMAL = N_("✅ All normal")
SOMETHING_TO_REPORT = N_("⚠️ Something to report")


def hm(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def span(starts_at: datetime, ends_at: datetime, tz: ZoneInfo) -> str:
    return f"{hm(starts_at, tz)}–{hm(ends_at, tz)}"


# -- the member -----------------------------------------------------------------------------

def reminder_text(_: Translate, *, name: str, post: str, shift: str, starts_at: datetime,
                  ends_at: datetime, minutes: int, tz: ZoneInfo, sensitive: bool) -> str:
    lines = [_("⏰ {name}, your patrol shift starts in {minutes} minutes:").format(
        name=name, minutes=minutes),
        _("{shift} at {post}, {time}").format(shift=shift, post=post,
                                              time=span(starts_at, ends_at, tz))]
    if sensitive:
        lines.append(_("🔴 Sensitive period: please be on time."))
    lines += ["", _("When you get there, scan the QR code on the post's sign, or send me "
                    "/duty and tap “📍 Sign in here”.")]
    return "\n".join(lines)


def nudge_text(_: Translate, *, name: str, post: str, shift: str, starts_at: datetime,
               tz: ZoneInfo) -> str:
    return _("Hello {name}, your shift {shift} at {post} began at {time} and I have not seen "
             "you sign in yet. Is everything all right?\n\nWhen you are there, scan the post's "
             "QR code or send /duty. If you cannot come today, please tell your leader."
             ).format(name=name, shift=shift, post=post, time=hm(starts_at, tz))


def signin_text(_: Translate, outcome: SignIn, tz: ZoneInfo) -> str:
    """What the member is told after scanning a post's sign or sending a pin."""
    r = outcome.result
    if r is SignInResult.UNKNOWN_POST:
        return _("Sorry, I do not know this post's code. The sign may be old: please ask your "
                 "leader for the new one.")
    if r is SignInResult.NOT_MEMBER:
        return _("Sorry, {post} is a post of a patrol team you are not in, so I cannot sign "
                 "you in there.").format(post=outcome.post_name)
    if r is SignInResult.NO_SHIFT:
        if outcome.post_name:
            return _("There is no shift at {post} right now, so there is nothing to sign in "
                     "to. Send /duty to see your shifts.").format(post=outcome.post_name)
        return _("You have no shift right now, so there is nothing to sign in to. Send /duty "
                 "to see your shifts.")
    assert outcome.starts_at is not None and outcome.ends_at is not None
    where = _("{shift} at {post}, {time}").format(
        shift=outcome.shift_name, post=outcome.post_name,
        time=span(outcome.starts_at, outcome.ends_at, tz))
    if r is SignInResult.ALREADY:
        return _("You are already signed in: {where}.").format(where=where)
    lines = [_("✅ Signed in: {where}.").format(where=where)]
    if outcome.late:
        lines.append(_("You are marked late (the shift began at {time}). Thank you for "
                       "coming!").format(time=hm(outcome.starts_at, tz)))
    else:
        lines.append(_("Right on time. Thank you, and take care out there!"))
    if outcome.far and outcome.distance_m is not None:
        lines.append(_("📍 Your pin is {metres} m from the post, so it is marked as away "
                       "from the post. Your leader can see this.").format(
            metres=outcome.distance_m))
    lines.append(_("If you see something, tap “🔎 Found something”."))
    return "\n".join(lines)


def duty_text(_: Translate, lines: Sequence[DutyLine], tz: ZoneInfo, *,
              sensitive: bool) -> str:
    out = [_("Your patrol shifts:")]
    if sensitive:
        out.append(_("🔴 Sensitive period now: extra shifts and a shorter grace time."))
    if not lines:
        out.append(_("No shifts in the next days."))
    for line in lines:
        day = line.starts_at.astimezone(tz).strftime("%m-%d")
        out.append(f"{day} {span(line.starts_at, line.ends_at, tz)} · {line.shift_name} · "
                   f"{line.post_name} · {_(STATE_LABELS[line.state])}")
    return "\n".join(out)


# -- the leader -------------------------------------------------------------------------------

def missing_text(_: Translate, *, name: str, post: str, shift: str, starts_at: datetime,
                 tz: ZoneInfo) -> str:
    return _("⚠️ Not signed in: {name}\n{shift} at {post} began at {time}. I reminded them, "
             "but they have not signed in.\n\nIf someone covered, or they are excused, tap "
             "below.").format(name=name, shift=shift, post=post, time=hm(starts_at, tz))


def resolved_text(_: Translate, *, name: str, post: str, covered_by: str | None) -> str:
    if covered_by is not None:
        return _("🔁 {name} at {post}: covered by {other}.").format(name=name, post=post,
                                                                  other=covered_by)
    return _("🙆 {name} at {post}: excused.").format(name=name, post=post)


@dataclass(frozen=True)
class BoardTeam:
    name: str
    lines: Sequence[DutyLine]


def board_text(_: Translate, teams: Sequence[BoardTeam], tz: ZoneInfo, *,
               sensitive: bool, limit: int = 3800) -> str:
    """/today: per team and post, who is on duty, late, missing."""
    out = [_("Today's patrol board:")]
    if sensitive:
        out.append(_("🔴 Sensitive period now: extra shifts and a shorter grace time."))
    for team in teams:
        out += ["", f"【{team.name}】"]
        if not team.lines:
            out.append(_("No shifts today."))
        post = None
        for line in team.lines:
            if line.post_name != post:
                post = line.post_name
                out.append(f"📍 {post}")
            extra = ""
            if line.covered_by:
                extra = " " + _("(by {name})").format(name=line.covered_by)
            if line.far:
                extra += " " + _("(away from the post)")
            out.append(f"  {span(line.starts_at, line.ends_at, tz)} {line.person_name} "
                       f"{_(STATE_LABELS[line.state])}{extra}")
    text = "\n".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"
