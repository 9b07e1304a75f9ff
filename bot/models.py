"""Every table of the bot, imported in one place so Alembic and tests see them all."""

from bot.alerts.models import Alert, AlertDraftRow, AlertRecipient, SensitivePeriod
from bot.audit.models import AuditEntry
from bot.broadcasting.models import QuietHoursSetting, TipSent
from bot.directory.models import (
    Area,
    Chat,
    Invite,
    Membership,
    PastMembership,
    PendingUpload,
    Person,
    Subscription,
    Team,
)
from bot.patrol.models import (
    PatrolDayReport,
    PatrolDaySummary,
    PatrolDuty,
    PatrolPost,
    PatrolPrompt,
    PatrolRotation,
    PatrolShift,
    PatrolTimes,
)
from bot.persistence import PersistedState
from bot.questions.models import Question, QuestionPrompt
from bot.replays import SeenUpdate
from bot.scamcheck.models import ScamCheck, ScamWarning
from bot.schedules.models import Campaign, Schedule
from bot.setup.models import SetupCode
from bot.tipoffs.models import (
    ReporterBlock,
    RoutingRule,
    TipOff,
    TipOffDraft,
    TipOffEvent,
    TipOffPhoto,
    TipOffPrompt,
    TipOffRating,
)

__all__ = [
    "Alert",
    "AlertDraftRow",
    "AlertRecipient",
    "Area",
    "AuditEntry",
    "Campaign",
    "Chat",
    "Invite",
    "Membership",
    "PastMembership",
    "PatrolDayReport",
    "PatrolDaySummary",
    "PatrolDuty",
    "PatrolPost",
    "PatrolPrompt",
    "PatrolRotation",
    "PatrolShift",
    "PatrolTimes",
    "PendingUpload",
    "PersistedState",
    "Person",
    "Question",
    "QuestionPrompt",
    "QuietHoursSetting",
    "ReporterBlock",
    "RoutingRule",
    "ScamCheck",
    "ScamWarning",
    "Schedule",
    "SeenUpdate",
    "SensitivePeriod",
    "SetupCode",
    "Subscription",
    "Team",
    "TipOff",
    "TipOffDraft",
    "TipOffEvent",
    "TipOffPhoto",
    "TipOffPrompt",
    "TipOffRating",
    "TipSent",
]
