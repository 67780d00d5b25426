"""The quality desk (质检): the reviewer's list and the review pages of sampled calls and cases."""
