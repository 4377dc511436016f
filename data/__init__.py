"""The model: event schema and validation, the lake, queries and the statistics cache.

Nothing in this package imports Dash.
"""
