"""Two-way referral, disease catalogs by level, appointments and reserved slots (issue 6)."""
