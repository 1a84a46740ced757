"""cartelsim: an open, fast, calibrated simulator of organized-crime conflict.

Reading order: scenario (the input schema) -> plan (scenario to arrays) -> aggregate (the
engine) -> observe (model to recorded numbers) -> results (tables, summary) -> report (HTML)
-> cli (the command line). runner.run ties them together.
"""

__version__ = "0.1.0"

from cartelsim.results import Results  # noqa: E402
from cartelsim.runner import run  # noqa: E402
from cartelsim.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402

__all__ = ["Results", "Scenario", "ScenarioError", "load_scenario", "run", "__version__"]
