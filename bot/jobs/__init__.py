"""APScheduler jobs: thin module-level functions that call services on a schedule."""
