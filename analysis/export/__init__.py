"""The anonymized dataset for API clients: pseudonyms, tables, k-anonymity, CSV/ZIP, views.

The outcomes table (long format) comes from analysis.dataset and plugs into
tables.TABLES; everything here works on whatever tables that registry holds.
"""
