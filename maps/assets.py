"""The vendored front-end files (``maps/static/``), read for inlining into offline HTML.

Government intranets block CDNs, so every script and stylesheet a map needs is shipped with the
project and inlined into the page. ``maps/static/leaflet/`` holds Leaflet 1.9.4's ``dist`` files
exactly as published on npm (``npm pack leaflet@1.9.4``), with its BSD-2-Clause ``LICENSE``.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path

from onetrench.errors import ConfigError

STATIC_DIR = Path(__file__).resolve().parent / "static"
LEAFLET_VERSION = "1.9.4"


def _read(relative: str) -> str:
    path = STATIC_DIR / relative
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"缺少地图前端文件 {path}，请重新安装 onetrench",
            f"vendored map asset {path} is missing; reinstall onetrench",
        ) from exc


@lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Leaflet's minified script, without its source-map comment (which would trigger a fetch)."""
    text = _read("leaflet/leaflet.js")
    return re.sub(r"//# sourceMappingURL=\S+\s*$", "", text)


@lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs (no relative fetches)."""
    text = _read("leaflet/leaflet.css")

    def _inline(match: re.Match[str]) -> str:
        name = match.group(1)
        data = (STATIC_DIR / "leaflet" / "images" / name).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    return re.sub(r"url\(images/([A-Za-z0-9_.-]+\.png)\)", _inline, text)


def inline_script(code: str) -> str:
    """Wrap code in a ``<script>`` element (the code must not contain ``</script``)."""
    if "</script" in code.lower():
        raise ConfigError("内联脚本包含 </script>", "inline script contains </script>")
    return f"<script>{code}</script>"


def inline_style(css: str) -> str:
    """Wrap CSS in a ``<style>`` element."""
    return f"<style>{css}</style>"


@lru_cache(maxsize=1)
def project_js() -> str:
    """The onetrench map runtime (layer registry, popups, date filter)."""
    return _read("onetrench/map.js")


@lru_cache(maxsize=1)
def project_css() -> str:
    """The onetrench map stylesheet."""
    return _read("onetrench/map.css")
