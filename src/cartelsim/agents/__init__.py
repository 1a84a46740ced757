"""The agent engine: every armed person and official an agent, on a map of regions, daily.

Read in this order: regions (the map) -> population (the people as columns, and the schema
of who writes each column and World field) -> world (one run's state) -> requests (how
mechanisms ask for changes to people) -> streams (a random stream per mechanism) ->
mechanisms/ (one module per daily mechanism) -> resolve (the day's requests, then exits and
moves for everyone at once) -> schedule (what the scenario fixes by date) -> record (weekly
outputs) -> sim (the daily loop) -> engine (ensembles of runs; `simulate_agents`). settings
holds the scenario's optional `[agents]` section; output turns runs into tables.

Nothing is imported here, so that scenario.py can import `agents.settings` without pulling
in the engine.
"""
