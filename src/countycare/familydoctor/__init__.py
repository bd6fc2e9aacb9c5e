"""Family-doctor teams, contracts, coverage, chronic-disease follow-up, health checks (issue 7)."""
