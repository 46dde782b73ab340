"""Usage statistics (COUNTER Code of Practice for Research Data), pure."""
