"""Home-page widgets and main-navigation entries of the familydoctor app (core.home)."""
