"""Handlers, one module per capability; `build_router` wires them in a fixed order."""

from __future__ import annotations

from bot.core.router import Router
from bot.handlers import (
    account,
    admin,
    broadcasts,
    feedback,
    general,
    groups,
    linking,
    meetings,
    onboarding,
)


def build_router() -> Router:
    """All handlers. Order matters only for /giupdo and the menu: most used first."""
    router = Router()
    meetings.register(router)
    broadcasts.register(router)
    feedback.register(router)
    general.register(router)
    onboarding.register(router)
    account.register(router)
    linking.register(router)
    admin.register(router)
    groups.register(router)
    router.fallback = onboarding.fallback
    return router
