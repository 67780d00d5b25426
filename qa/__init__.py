"""Quality inspection (质检, issue 19): the monthly sample, the reviews and what they measure."""
