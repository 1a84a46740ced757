"""cartelsim: an open, fast, calibrated simulator of organized-crime conflict.

Reading order: scenario (the input schema) -> plan (scenario to arrays) -> aggregate (the
engine: flows.py its right-hand side, integrators.py its kernels) -> observe (model to
recorded numbers) -> results (tables, summary) -> runner, ensemble (the run path) -> report
(HTML) -> cli (the command line). engines.py is how the core drives the engines (the
aggregate one and the agent engine in agents/) without importing them.
"""

from cartelsim.results import Results
from cartelsim.runner import run
from cartelsim.scenario import Scenario, ScenarioError, load_scenario
from cartelsim.version import VERSION

__version__ = VERSION

__all__ = ["Results", "Scenario", "ScenarioError", "load_scenario", "run", "__version__"]
