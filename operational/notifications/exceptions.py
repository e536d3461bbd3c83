from operational.core.errors import Conflict, NotFound, UnprocessableEntity


class MessageNotFound(NotFound):
    def __init__(self, message_id: int):
        super().__init__(f"No outbox message {message_id}")


class WebhookNotFound(NotFound):
    def __init__(self, webhook_id: int):
        super().__init__(f"No webhook {webhook_id}")


class NotDeadLettered(Conflict):
    slug, title = "not-dead-lettered", "Only a dead-lettered message can be retried"


class InvalidTemplate(UnprocessableEntity):
    slug, title = "invalid-template", "The template does not parse"


class UnsafeWebhookUrl(UnprocessableEntity):
    slug, title = "unsafe-webhook-url", "This URL may not receive webhooks"
