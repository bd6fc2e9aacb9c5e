"""Circuit service points (siting), circuit schedules, dispatched doctors, compliance (issue 8)."""
