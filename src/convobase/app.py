"""create_app(settings) -> FastAPI: routers, error handlers, middleware, and the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from convobase import __version__
from convobase.agents.router import router as agents_router
from convobase.apikeys.router import router as api_keys_router
from convobase.auth.router import router as auth_router
from convobase.config import Settings
from convobase.console import install as install_console
from convobase.conversations.router import router as conversations_router
from convobase.conversations.router import session_router as active_conversation_router
from convobase.errors import install_error_handlers, install_unavailable_handlers
from convobase.files.router import router as files_router
from convobase.gateway.router import router as gateway_router
from convobase.health import router as health_router
from convobase.keys.router import router as provider_keys_router
from convobase.logging import configure_logging
from convobase.messages.router import router as messages_router
from convobase.middleware import RequestContextMiddleware
from convobase.oauth.router import router as oauth_router
from convobase.preferences.router import router as preferences_router
from convobase.quotas.router import admin_router as admin_quotas_router
from convobase.quotas.router import router as quotas_router
from convobase.runtime import Runtime
from convobase.search.router import router as search_router
from convobase.sharing.router import page_router as shared_page_router
from convobase.sharing.router import router as sharing_router
from convobase.transfer.router import router as transfer_router
from convobase.usage.router import admin_router as admin_usage_router
from convobase.usage.router import router as usage_router
from convobase.users.router import router as admin_users_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check()  # refuse a configuration that cannot run before serving anything
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.from_settings(settings)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="Convobase",
        version=__version__,
        lifespan=lifespan,
        description="The open-source backend for AI chat applications.",
    )
    app.state.settings = settings
    install_error_handlers(app)

    install_unavailable_handlers(app)

    for router in (
        health_router,
        auth_router,
        oauth_router,
        api_keys_router,
        provider_keys_router,
        admin_users_router,
        conversations_router,
        active_conversation_router,
        messages_router,
        sharing_router,
        shared_page_router,
        agents_router,
        search_router,
        files_router,
        transfer_router,
        gateway_router,
        preferences_router,
        usage_router,
        admin_usage_router,
        quotas_router,
        admin_quotas_router,
    ):
        app.include_router(router)
    install_console(app)  # the web console at / and /console/ (HTML pages, no API routes)
    _json_limit = settings.max_request_bytes
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_request_bytes,
        access_log=settings.access_log,
        path_limits={
            "/api/v1/files": _upload_body_limit(settings),
            "/console/files": _upload_body_limit(settings),  # the console's upload form
            "/v1/chat/completions": settings.gateway_max_request_bytes,
            # The import route enforces import_max_bytes itself while streaming.
            "/api/v1/import": max(settings.import_max_bytes + 64 * 1024, _json_limit),
            "/api/v1/import/local": max(settings.import_max_item_bytes, _json_limit),
        },
    )
    return app


def _upload_body_limit(settings: Settings) -> int:
    """The upload route's body ceiling: the file plus multipart overhead, or base64 JSON."""
    as_json = settings.upload_json_max_bytes * 4 // 3 + 64 * 1024
    return max(settings.upload_max_bytes + 64 * 1024, as_json, settings.max_request_bytes)


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` workers: settings from the environment."""
    return create_app(Settings())
