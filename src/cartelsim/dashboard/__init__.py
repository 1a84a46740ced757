"""The dashboard: `cartelsim serve` opens a Solara web app to explore scenarios and policies.

Solara (the framework Mesa's visualization uses) runs the page's Python on the server: the
engine is called in-process, so an aggregate run updates the page without a round trip
through files. Modules: `catalog` (which scenarios a page may pick), `levers` (policy levers
to scenario content), `posteriors` (calibration posteriors a run may draw its parameters
from), `views` (numbers shown, from the tidy table), `figures` (Vega-Lite specs from
report/charts.py, drawn in the browser by `vega.py`), `app` (the page), `assets` (the
page's front-end files).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from pathlib import Path


def check_address(host: str, port: int) -> None:
    """Refuse, with one line, an address the server could not listen on: a port outside
    1-65535, a host that is not an address (256.1.1.1) or not this machine's, a port in use
    or reserved. Tried by binding a socket, then closing it, so the answer is the system's."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"--port {port}: must be between 1 and 65535")
    text = str(host).strip()
    looks_numeric = text.replace(".", "").isdigit() or ":" in text
    if looks_numeric:
        try:
            ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            raise ValueError(f"--host {host}: not a valid IP address") from None
    try:
        infos = socket.getaddrinfo(text.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(
            f"--host {host}: not an address this machine can resolve ({why})"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ValueError(
                    f"--port {port}: already in use on {host}; choose another --port"
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ValueError(f"--host {host}: not an address of this machine") from None
            if exc.errno == errno.EACCES:
                raise ValueError(
                    f"--port {port}: not allowed here (ports below 1024 need privileges)"
                ) from None
            raise ValueError(
                f"--host {host} --port {port}: cannot listen ({exc.strerror})"
            ) from None


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

    check_address(host, port)
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
