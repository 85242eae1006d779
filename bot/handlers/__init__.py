"""Handlers, one module per capability; `build_router` wires them in a fixed order."""

from __future__ import annotations

from bot.core.router import Router
from bot.handlers import account, admin, broadcasts, general, linking, onboarding


def build_router() -> Router:
    """All handlers. Order matters only for /giupdo, which lists commands as registered."""
    router = Router()
    general.register(router)
    onboarding.register(router)
    account.register(router)
    linking.register(router)
    admin.register(router)
    broadcasts.register(router)
    router.fallback = onboarding.fallback
    return router
