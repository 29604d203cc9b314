"""The issues service: rectification items, the ledger, the ranking and the public board."""

SERVICE = "issues"
