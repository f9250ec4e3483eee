"""The usage app stores nothing of its own: it reads replies and budgets from conversations."""
