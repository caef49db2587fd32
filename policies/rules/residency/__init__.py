"""Data-residency rules: no vehicle data, replica or endpoint outside the region's boundary."""
