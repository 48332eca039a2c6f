"""matplotlib helpers shared by the static maps and the timelines: CJK font, byte-stable output."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

#: Preferred CJK families, simplified Chinese first.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Serif CJK SC",
    "Noto Sans CJK JP",
    "AR PL UMing CN",
)


@lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The name of an installed CJK font family matplotlib can use, or ``None``.

    Looks at matplotlib's font list first, then asks fontconfig (``fc-list :lang=zh``) and
    registers the first file it names (Debian: ``fonts-noto-cjk``).
    """
    known = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FAMILIES:
        if name in known:
            return name
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(out.splitlines()):
        path = line.split(":", 1)[0].strip()
        if not path:
            continue
        try:
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def bilingual(zh: str, en: str) -> str:
    """``"中文 English"`` when a CJK font is available, else the English text alone."""
    return f"{zh} {en}" if cjk_family() else en


def displayable(text: str) -> str:
    """``text`` as is when a CJK font is available, else only its Latin part (no missing glyphs).

    Examples
    --------
    >>> displayable("Joint map") == "Joint map"
    True
    """
    if cjk_family():
        return text
    return " ".join("".join(ch if ord(ch) < 0x2E80 else " " for ch in text).split())


@contextmanager
def style() -> Iterator[None]:
    """A fixed matplotlib style (fonts, no hash salt drift) for byte-stable output."""
    family = cjk_family()
    rc: dict[str, Any] = {
        "font.family": "sans-serif",
        "font.sans-serif": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.hashsalt": "onetrench",
        "svg.fonttype": "path",
        "path.simplify": True,
        "text.parse_math": False,  # user text with "$" must not be read as mathtext
    }
    with mpl.rc_context(cast(Any, rc)):
        yield


def png_bytes(fig: Figure, *, dpi: float) -> bytes:
    """Render ``fig`` as PNG with fixed metadata (no software/version stamp): same input, same bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def svg_text(fig: Figure) -> str:
    """Render ``fig`` as an inline ``<svg>`` element (no XML prolog, no date): byte-stable."""
    FigureCanvasSVG(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]
