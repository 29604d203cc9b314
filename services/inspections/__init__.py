"""The inspections service: unannounced, cross-county inspections and their spot checks."""

SERVICE = "inspections"
