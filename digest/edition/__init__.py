"""The edition's pure stages: periods, topics, selection, summaries, variants, rendering.

Nothing here touches the database, the network or the clock (times are arguments).
"""
