"""Every table, one module each; importing this package registers them all on Base.metadata."""

from convobase.db.base import Base
from convobase.models.agent import AgentLog, Feedback, ToolRun
from convobase.models.api_key import ApiKey
from convobase.models.auth_session import AuthSession
from convobase.models.conversation import Conversation, ConversationTag
from convobase.models.file import Blob, File
from convobase.models.imported import ImportedConversation
from convobase.models.message import Message, MessageEdit
from convobase.models.oauth import OAuthAccount, OAuthState
from convobase.models.preference import Preference
from convobase.models.provider_key import ProviderKey
from convobase.models.search_doc import SearchDoc, SearchTerm
from convobase.models.share import Share
from convobase.models.usage import (
    ModelPrice,
    QuotaReservation,
    UsageDaily,
    UsageEvent,
    UsageLatencyDaily,
    UsageUserPeriod,
    UserQuota,
)
from convobase.models.user import User

__all__ = [
    "AgentLog",
    "ApiKey",
    "AuthSession",
    "Base",
    "Blob",
    "Conversation",
    "ConversationTag",
    "Feedback",
    "File",
    "ImportedConversation",
    "Message",
    "MessageEdit",
    "ModelPrice",
    "OAuthAccount",
    "OAuthState",
    "Preference",
    "ProviderKey",
    "QuotaReservation",
    "SearchDoc",
    "SearchTerm",
    "Share",
    "ToolRun",
    "UsageDaily",
    "UsageEvent",
    "UsageLatencyDaily",
    "UsageUserPeriod",
    "User",
    "UserQuota",
]
