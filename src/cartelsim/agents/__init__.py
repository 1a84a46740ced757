"""The agent engine: every armed person and official an agent, on a map of regions, daily.

Read in this order: regions (the map) -> population (the people as columns) -> world (one
run's state) -> mechanisms/ (one module per daily mechanism) -> resolve (exits and moves for
everyone at once) -> record (weekly outputs) -> sim (the daily loop; `simulate_agents`).
settings holds the scenario's optional `[agents]` section; maps draws the report's map;
fit searches a grid of agent-only parameters against the observed killings.

Nothing is imported here, so that scenario.py can import `agents.settings` without pulling
in the engine.
"""
