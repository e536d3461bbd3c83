"""Notifications: one transactional outbox that every domain writes to through
``service.enqueue``, delivered by the worker's dispatcher over mail (SMTP) and webhooks
(generic JSON signed with HMAC-SHA256, Slack, Microsoft Teams). See docs/notifications.md."""
