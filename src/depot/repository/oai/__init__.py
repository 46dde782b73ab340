"""OAI-PMH 2.0 (pure parts): request arguments and dates, resumption tokens, response XML."""
