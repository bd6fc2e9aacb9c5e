"""Home-page widgets and main-navigation entries of the outreach app (core.home)."""
