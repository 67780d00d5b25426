"""Callback letters (信函回访): the day's letter cases of a branch printed as one PDF, each letter the same
questionnaire the robot asks, rendered for its policy, with the facts, a receipt to sign and a QR code."""
