"""What a view shows, as it lives in the URL: range, version and the page's own choices.

Every view is addressable: :meth:`ViewState.href` writes only what differs from the
defaults, so the plain page URL opens the default view and a shared link restores the view.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from urllib.parse import urlencode

import dash

from config import get_settings
from data.stats import as_of
from data.timerange import DEFAULT_PRESET, DEFAULT_VERSION, VERSIONS, TimeRange, resolve

#: URL parameters that follow the viewer from page to page.
SHARED = ("range", "date", "start", "end", "version", "embed")


@dataclass(frozen=True)
class ViewState:
    range: str = DEFAULT_PRESET
    date: str | None = None
    start: str | None = None
    end: str | None = None
    version: str = DEFAULT_VERSION
    embed: str | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> ViewState:
        values = {f.name: query.get(f.name) or None for f in fields(cls)}
        version = values.pop("version") or DEFAULT_VERSION
        preset = values.pop("range") or DEFAULT_PRESET
        if version not in VERSIONS:
            version = DEFAULT_VERSION
        return cls(range=preset, version=version, **values)

    def with_(self, **changes: str | None) -> ViewState:
        return replace(self, **changes)

    def params(self) -> dict[str, str]:
        """The non-default parameters, in a stable order."""
        out: dict[str, str] = {}
        if self.range != DEFAULT_PRESET:
            out["range"] = self.range
        if self.range == "date" and self.date:
            out["date"] = self.date
        if self.range == "custom":
            if self.start:
                out["start"] = self.start
            if self.end:
                out["end"] = self.end
        if self.version != DEFAULT_VERSION:
            out["version"] = self.version
        if self.embed:
            out["embed"] = self.embed
        return out

    def href(self, path: str, **extra: str | None) -> str:
        """A link to ``path`` (under the app's prefix) with this state and ``extra``."""
        params = self.params() | {k: v for k, v in extra.items() if v is not None}
        query = f"?{urlencode(params)}" if params else ""
        return dash.get_relative_path(path) + query

    def time_range(self, now: datetime | None = None) -> TimeRange:
        """The range as of ``now`` (default: the statistics' instant, see data.stats.as_of)."""
        settings = get_settings()
        return resolve(
            self.range,
            now=now or as_of()[0],
            timezone=settings.timezone,
            retention_days=settings.retention_days,
            day=self.date,
            first=self.start,
            last=self.end,
        )
