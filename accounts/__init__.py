"""Console accounts: users, their roles and branches, passwords and sign-in (issue 14)."""
