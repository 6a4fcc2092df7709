"""Format definitions and the engine that applies them."""
