"""The notifications service: subscriptions, signed webhook deliveries and the pull feed."""

SERVICE = "notifications"
