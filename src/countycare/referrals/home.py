"""Home-page widgets and main-navigation entries of the referrals app (core.home)."""
