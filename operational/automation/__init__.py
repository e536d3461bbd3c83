"""Automation rules: a service desk's own habits, as data (docs/automation.md)."""
