"""The domain floor: region profiles and stack config, locations, sizing, errors, paths, inputs.

Components, policies and the operator tool all stand on it; it imports none of them.
"""
