"""Platform-neutral core: events, replies, router, clock, translations."""
