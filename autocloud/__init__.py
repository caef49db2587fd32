"""autocloud: regional connected-vehicle platforms on Azure and local Kubernetes, kept in region."""
