"""E-callback (电子化回访): SMS links, one-time codes, the job that sends links and gives up on unanswered ones, and the H5 pages."""
