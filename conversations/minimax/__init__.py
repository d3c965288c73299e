"""The MiniMax vendor package: one client for every dialect, and the simulator.

Nothing here imports Django models; past this package the app sees only the
typed events of `events.py`.
"""
