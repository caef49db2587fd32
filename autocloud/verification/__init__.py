"""Looking before deploying: the offline check, the residency and capacity reports, the PR comment."""
