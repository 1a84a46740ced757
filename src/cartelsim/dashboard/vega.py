"""A Vega-Lite chart on the dashboard page: the server sends the spec (report/charts.py), the
browser draws it with Vega (hover, zoom and legend toggles work there, without the server).

Solara's own FigureAltair loads Vega from jsDelivr; this widget loads the one script that the
vl-convert package bundles (Vega, Vega-Lite and Vega-Embed), which `install_bundle` puts in
Solara's local CDN cache: the page fetches nothing from outside the server.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import ipyvue
import solara
import traitlets

from cartelsim.report import charts

TEMPLATE = """
<template>
  <div class="cs-chart" style="width: 100%"><div ref="plot" style="width: 100%"></div></div>
</template>
<script>
module.exports = {
  mounted() { this.draw(); },
  destroyed() { if (this.view) { this.view.finalize(); } },
  watch: { spec() { this.draw(); } },
  methods: {
    base() {
      if (window.solara && window.solara.cdn) { return window.solara.cdn; }
      let root = document.getElementsByTagName("base").length ? "./" : document.baseURI;
      if (!root.endsWith("/")) { root += "/"; }
      return root + "_solara/cdn";
    },
    load() {
      if (window.vegaEmbed) { return Promise.resolve(); }
      if (!window.csVegaLoading) {
        window.csVegaLoading = new Promise((resolve, reject) => {
          const script = document.createElement("script");
          script.src = this.base() + "/" + this.bundle;
          script.onload = resolve;
          script.onerror = reject;
          document.head.appendChild(script);
        });
      }
      return window.csVegaLoading;
    },
    async draw() {
      await this.load();
      const spec = JSON.parse(JSON.stringify(this.spec));
      // Same chart, new numbers (a lever moved): give the drawn view its new tables rather
      // than building a new one, which costs the browser several times more.
      const tables = spec.datasets || {};
      const shape = JSON.stringify({...spec, datasets: Object.keys(tables)});
      if (this.view && this.shape === shape) {
        for (const [name, values] of Object.entries(tables)) { this.view.data(name, values); }
        await this.view.runAsync();
        return;
      }
      this.shape = shape;
      const options = {actions: false, renderer: "svg"};
      const drawn = await window.vegaEmbed(this.$refs.plot, spec, options);
      if (this.view) { this.view.finalize(); }
      this.view = drawn.view;
    }
  }
}
</script>
"""


@functools.cache
def bundle_path() -> str:
    """Where the bundle lies under Solara's CDN cache: the version and a content hash in the
    name (the server marks such paths immutable, so browsers keep it)."""
    import vl_convert

    digest = hashlib.sha256(charts.javascript().encode()).hexdigest()[:12]
    version = ".".join(vl_convert.__version__.split(".")[:3])
    return f"cartelsim-vega@{version}-{digest}/vega-bundle.js"


def install_bundle(cache_dir: Path) -> Path:
    """Write the bundle into Solara's CDN cache (once per version)."""
    path = Path(cache_dir) / bundle_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text(charts.javascript(), encoding="utf-8")
        tmp.replace(path)
    return path


class VegaWidget(ipyvue.VueTemplate):
    template = traitlets.Unicode(TEMPLATE).tag(sync=True)
    spec = traitlets.Dict().tag(sync=True)
    bundle = traitlets.Unicode("").tag(sync=True)


@solara.component
def VegaChart(chart):  # noqa: N802 (components are CamelCase in Solara)
    """A chart of report/charts.py (a spec dict or a TimeChart), drawn in the browser."""
    spec = solara.use_memo(lambda: charts.spec(chart), [chart])
    return VegaWidget.element(spec=spec, bundle=bundle_path())
