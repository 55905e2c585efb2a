"""Every table, one module each; importing this package registers them all on Base.metadata."""

from convobase.db.base import Base
from convobase.models.api_key import ApiKey
from convobase.models.auth_session import AuthSession
from convobase.models.user import User

__all__ = ["ApiKey", "AuthSession", "Base", "User"]
