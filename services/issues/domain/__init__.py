"""The issues service\x27s domain: items and their rules."""
