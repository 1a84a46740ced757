"""The dashboard: `cartelsim serve` opens a Solara web app to explore scenarios and policies.

Solara (the framework Mesa's visualization uses) runs the page's Python on the server: the
engine is called in-process, so an aggregate run updates the page without a round trip
through files. Modules: `catalog` (which scenarios a page may pick), `levers` (policy levers
to scenario content), `posteriors` (calibration posteriors a run may draw its parameters
from), `views` (numbers shown, from the tidy table), `figures` (matplotlib), `app` (the
page), `assets` (the page's front-end files).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    scenario_dir: Path | None = None,
    data_dir: str | None = None,
    posterior_dir: Path | None = None,
) -> None:
    """Serve the dashboard until interrupted. Binds to 127.0.0.1 unless told otherwise.
    `posterior_dir`: a folder whose subfolders are calibration outputs (posteriors.py)."""
    import uvicorn
    from solara.server import settings

    from cartelsim.dashboard.assets import ensure_assets
    from cartelsim.dashboard.catalog import Catalog
    from cartelsim.dashboard.posteriors import Posteriors
    from cartelsim.runner import run

    if scenario_dir is not None and not Path(scenario_dir).is_dir():
        raise ValueError(f"--scenarios: {scenario_dir}: not a folder")
    if posterior_dir is not None and not Path(posterior_dir).is_dir():
        raise ValueError(f"--posteriors: {posterior_dir}: not a folder")
    settings.telemetry.mixpanel_enable = False  # no usage reports sent to Solara's makers
    # A closed page's session (its results: up to hundreds of MB for 500 runs) is freed after
    # 5 minutes rather than Solara's default 24 hours, which only serves reconnecting.
    settings.kernel.cull_timeout = "5m"
    for problem in ensure_assets(Path(settings.assets.proxy_cache_dir)):
        print(f"cartelsim: warning: {problem}", file=sys.stderr)
    from cartelsim.dashboard import app

    app.SERVER["catalog"] = Catalog.from_folder(scenario_dir)
    app.SERVER["posteriors"] = Posteriors.from_folder(posterior_dir)
    app.SERVER["data_dir"] = data_dir or os.environ.get("CARTELSIM_DATA_DIR")
    # Load the engine's compiled kernels now, so the first visitor does not wait for them. A
    # failure here is the page's to report (on the run that fails), not a reason not to serve.
    try:
        run(app.SERVER["catalog"].load(app.DEFAULT_SCENARIO)).to_pandas()
    except Exception as exc:
        print(f"cartelsim: warning: the warm-up run failed ({exc})", file=sys.stderr)
    os.environ["SOLARA_APP"] = "cartelsim.dashboard.app"
    print(f"cartelsim dashboard: http://{host}:{port}/", file=sys.stderr, flush=True)
    uvicorn.run("solara.server.starlette:app", host=host, port=port, log_level="warning")
