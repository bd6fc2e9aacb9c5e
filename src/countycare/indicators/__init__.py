"""Indicator registry, computation, dashboards, facility standards, exports (issue 9)."""
