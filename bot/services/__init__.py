"""Business rules, testable without any chat platform; functions take the session first."""
