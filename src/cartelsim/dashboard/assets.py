"""The browser-side files Solara's page needs, fetched with npm when missing.

Solara's server hands the page three front-end packages (its Vuetify app, RequireJS and Font
Awesome) through a local cache that it fills from a CDN on first use. Machines that reach
the package registries but not that CDN (CI runners, firewalled servers) would then serve a
blank page. The CDN only mirrors npm packages, so we fill the same cache with `npm pack`
(the ordinary npm client, by package name), each tarball checked against the SHA-512 pinned
here. The versions are the ones Solara 1.64.1's page template asks for; a Solara upgrade
must update them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

#: (package@version as in Solara's template, npm's `dist.integrity` of its tarball).
PACKAGES = (
    (
        "@widgetti/solara-vuetify3-app@5.2.0",
        "sha512-9UMyjf9KASR9PucZ7848upx1gqOqlUnG5Hh5or5CTaN/Um+AxAHQGwv8x4fFJzco/OaccsWdtsqb3bmYAnBo+Q==",
    ),
    (
        "requirejs@2.3.6",
        "sha512-ipEzlWQe6RK3jkzikgCupiTbTvm4S0/CAU5GlgptkN5SO6F3u0UD0K18wy6ErDqiCyP4J4YYe1HuAShvsxePLg==",
    ),
    (
        "font-awesome@4.5.0",
        "sha512-XGGY8CN/NT8e5fKOC/K7CESNQ3+2oYOfZqwZcKgEMtcmTiHtFIH+XZWRoU0HtcdwhtSkpWXLfTIUlTdJ4PhX8A==",
    ),
)


def ensure_assets(cache_dir: Path, timeout: float = 120.0) -> list[str]:
    """Put every package missing from Solara's CDN cache there; return one line per failure.

    A failure is not fatal: Solara still tries jsDelivr when the page asks for the file.
    The charts' script (Vega, from the vl-convert package: dashboard/vega.py) is written there
    too; it needs no network.
    """
    problems = []
    try:
        from cartelsim.dashboard.vega import install_bundle

        install_bundle(cache_dir)
    except (OSError, ImportError) as exc:
        problems.append(f"the charts' script (Vega): not written to {cache_dir} ({exc})")
    for name, integrity in PACKAGES:
        target = cache_dir / name
        if target.is_dir():
            continue
        try:
            _unpack(_npm_pack(name, integrity, timeout), target)
        except (OSError, ValueError, tarfile.TarError, subprocess.SubprocessError) as exc:
            problems.append(f"front-end package {name}: not fetched with npm ({exc})")
    return problems


def _npm_pack(name: str, integrity: str, timeout: float) -> bytes:
    """The package's tarball, downloaded by `npm pack` and checked against `integrity`."""
    npm = shutil.which("npm")
    if npm is None:
        raise OSError("npm is not installed; install Node.js and npm, or solara-assets")
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [npm, "pack", name, "--pack-destination", folder, "--silent"],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        tarballs = list(Path(folder).glob("*.tgz"))
        if len(tarballs) != 1:
            raise ValueError(f"npm pack {name} gave {len(tarballs)} files")
        data = tarballs[0].read_bytes()
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise ValueError(f"{name}: {algorithm} does not match the pinned integrity")
    return data


def _unpack(tarball: bytes, target: Path) -> None:
    """Unpack an npm tarball (files under `package/`) into target, written whole then renamed."""
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member in archive.getmembers():
            parts = PurePosixPath(member.name).parts
            if not member.isfile() or len(parts) < 2 or ".." in parts:
                continue
            path = partial.joinpath(*parts[1:])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.extractfile(member).read())
    partial.rename(target)
