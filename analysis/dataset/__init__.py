"""The anonymized dataset for API clients: pseudonyms, tables, k-anonymity, CSV/ZIP, views.

The outcomes table (long format, outcomes.py) comes from analysis.long_format's row builder;
everything here works on whatever tables the registry (registry.TABLES) holds.
"""
