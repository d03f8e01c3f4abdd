"""The anonymized dataset for API clients: tables, k-anonymity, CSV/ZIP, views.

The subjects' pseudonyms and the study's key belong to the study: patients.pseudonyms.

The outcomes table (long format, outcomes.py) comes from analysis.long_format's row builder;
everything here works on whatever tables the registry (registry.TABLES) holds.
"""
