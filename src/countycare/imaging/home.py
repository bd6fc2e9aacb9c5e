"""Home-page widgets and main-navigation entries of the imaging app (core.home)."""
