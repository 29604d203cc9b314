"""The inspection aggregate, sampling, and the copy of the items: plain Python, no I/O."""
