"""The audit trail desk: /console/audit."""
