"""Dashboard building blocks: cached resources, pure plotly figure builders, page helpers.

Pages in ``pages/`` stay thin: widgets -> ``dashboard``/``core`` calls -> figures.
"""
