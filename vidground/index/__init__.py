"""The event index: stored events, their text and vectors, and search over them."""
