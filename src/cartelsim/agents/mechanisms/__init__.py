"""The daily mechanisms, one module each, run by agents/sim.py in a fixed order:

recruitment -> movement -> clashes -> raids -> corruption -> leadership -> alliances ->
economy, then the day is resolved (agents/resolve.py) and recorded (agents/record.py).
Each module has a `step(world, day)` and documents its rule and parameters.
"""
