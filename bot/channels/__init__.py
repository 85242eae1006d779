"""Platform adapters: the only packages that know a chat platform's API."""
