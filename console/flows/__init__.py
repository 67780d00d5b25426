"""The flow studio desk: flows, their diagrams and prompts, and the call simulator."""
