"""Home-page widgets and main-navigation entries of the indicators app (core.home)."""
