"""The scenarios a dashboard user can pick: built-ins, a folder chosen at start, and uploads.

The page only ever sends a scenario's *name*; the server looks the name up in this catalog.
Files come from the folder given to `cartelsim serve --scenarios DIR`, listed once at start,
so nothing typed or uploaded in the page is used as a path on the server. An uploaded file is
parsed in memory; its `extends` may only name a scenario already in the catalog.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cartelsim.scenario import (
    Scenario,
    ScenarioError,
    builtin_names,
    load_scenario,
    merge,
    validate,
)

#: Uploads larger than this are refused (a scenario file is a few kilobytes).
MAX_UPLOAD_BYTES = 1_000_000


@dataclass
class Catalog:
    """Scenario names mapped to where they come from."""

    folder_files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: Path | None) -> Catalog:
        """List the *.toml files of `folder` (not its subfolders); built-ins win name clashes."""
        files = {}
        if folder is not None:
            for path in sorted(Path(folder).glob("*.toml")):
                if path.stem not in builtin_names():
                    files[path.stem] = path
        return cls(files)

    def names(self) -> list[str]:
        return [*builtin_names(), *self.folder_files]

    def load(self, name: str) -> Scenario:
        """The scenario called `name`; a ScenarioError for a name not in the catalog."""
        if name in builtin_names():
            return load_scenario(name)
        if name in self.folder_files:
            return load_scenario(self.folder_files[name])
        raise ScenarioError(f"{name}: not a scenario of this server")

    def parse_upload(self, filename: str, data: bytes) -> Scenario:
        """Validate an uploaded scenario file held in memory; one line per problem."""
        label = Path(filename).name or "upload"
        if len(data) > MAX_UPLOAD_BYTES:
            raise ScenarioError(f"{label}: (file): larger than {MAX_UPLOAD_BYTES:,} bytes")
        try:
            document = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{label}: (file): not UTF-8 text ({exc.reason})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{label}: (syntax): {exc}") from None
        parent = document.get("extends")
        if parent is not None:
            if not isinstance(parent, str) or parent not in self.names():
                known = ", ".join(self.names())
                raise ScenarioError(
                    f"{label}: extends: must name a scenario of this server ({known}); "
                    f"got {parent!r}"
                )
            base = self.load(parent).model_dump(mode="json", exclude={"extends"})
            document = merge(base, document)
        return validate(document, label)
