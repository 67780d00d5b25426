"""All models, imported here so Alembic and the metadata see every table."""

from storage.models.api import ApiIdempotency, ApiKey
from storage.models.call import Call, CallEvent
from storage.models.case import Case, CaseEvent
from storage.models.coordination import DialerHeartbeat, DialerPacing, DialerPause, JobRun
from storage.models.drop import DroppedFile
from storage.models.ecallback import EcallbackLink, EcallbackSnapshot
from storage.models.imports import ImportJob
from storage.models.integration import IntegrationEvent, IntegrationPruned
from storage.models.messaging import SmsMessage, SmsOutbox
from storage.models.org import Agent, Branch
from storage.models.policy import PhoneRecheck, Policy
from storage.models.qa import QaReview, QaSample
from storage.models.recording import AuditEvent, Recording
from storage.models.task import CallbackTask, TaskHold
from storage.models.user import User

__all__ = ["Agent", "ApiIdempotency", "ApiKey", "AuditEvent", "Branch", "Call", "CallEvent", "CallbackTask", "Case",
           "CaseEvent", "DialerHeartbeat", "DialerPacing", "DialerPause", "DroppedFile", "EcallbackLink",
           "EcallbackSnapshot", "ImportJob", "IntegrationEvent", "IntegrationPruned", "JobRun", "PhoneRecheck", "Policy", "QaReview",
           "QaSample", "Recording", "SmsMessage", "SmsOutbox", "TaskHold", "User"]
