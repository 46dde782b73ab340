"""What the landing pages show, as pure functions: readable licences and dates, citations, the map's point."""
