"""The audit log: who changed what, when, with the state before and after."""

from bot.audit.models import AuditEntry
from bot.audit.service import record, record_many

__all__ = ["AuditEntry", "record", "record_many"]
