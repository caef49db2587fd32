"""Residency on the local target: one labelled namespace per region, nothing reaching another region."""
