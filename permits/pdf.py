"""``application.pdf``: the printable 占掘路施工组织方案 of a permit package (fpdf2, CJK font embedded).

The font is Noto Sans CJK SC from Debian's ``fonts-noto-cjk`` (a TrueType collection; fpdf2
reads the SC face by its collection index and embeds a subset). The PDF is deterministic:
fixed creation date, and a document ID derived from the content.

All text goes through :func:`safe_text`: control characters are removed and characters the
font lacks become ``□``, so user text can neither break the layout nor make fpdf2 fail.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]
from fpdf import FPDF, FontFace
from fpdf.enums import Align, WrapMode, XPos, YPos

from onetrench.errors import ConfigError, InputError

#: Debian package that provides the font: ``apt-get install fonts-noto-cjk``.
FONT_APT_PACKAGE = "fonts-noto-cjk"
FONT_FAMILY_NAME = "Noto Sans CJK SC"
_FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/opentype/noto-cjk"))
_REGULAR_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansCJK-Regular.otf")
_BOLD_FILES = ("NotoSansCJK-Bold.ttc", "NotoSansCJKsc-Bold.otf", "NotoSansCJK-Bold.otf")

#: Creation date written when the package has no preparation date (keeps the bytes stable).
FIXED_CREATION_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MAX_TEXT_CHARS = 20_000
_FAMILY = "cjk"


@dataclass(frozen=True, slots=True)
class FontFile:
    """A font file and the face index inside it (0 for a plain OTF/TTF)."""

    path: Path
    index: int


def _face_index(path: Path, family: str) -> int | None:
    if path.suffix.lower() != ".ttc":
        font = TTFont(path, lazy=True)
        names = {font["name"].getDebugName(1), font["name"].getDebugName(16)}
        font.close()
        return 0 if family in names or "CJK SC" in " ".join(n or "" for n in names) else None
    coll = TTCollection(path, lazy=True)
    try:
        for i, font in enumerate(coll.fonts):
            if family in (font["name"].getDebugName(1), font["name"].getDebugName(16)):
                return i
    finally:
        coll.close()
    return None


def _fc_match(pattern: str) -> Path | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out.stdout.strip())
    return path if out.returncode == 0 and path.suffix.lower() in (".ttc", ".otf", ".ttf") and path.is_file() else None


@lru_cache(maxsize=4)
def find_cjk_font(bold: bool = False) -> FontFile:
    """Return the Noto Sans CJK SC font file (regular or bold) and its face index.

    Raises
    ------
    ConfigError
        When the font is not installed; the message names the Debian package.
    """
    names = _BOLD_FILES if bold else _REGULAR_FILES
    candidates = [d / n for d in _FONT_DIRS for n in names]
    matched = _fc_match(f"{FONT_FAMILY_NAME}:style={'Bold' if bold else 'Regular'}")
    if matched is not None:
        candidates.append(matched)
    for path in candidates:
        if path.is_file():
            index = _face_index(path, FONT_FAMILY_NAME)
            if index is not None:
                return FontFile(path, index)
    raise ConfigError(
        f"未找到中文字体 {FONT_FAMILY_NAME}，无法生成 PDF：请安装 Debian 软件包 {FONT_APT_PACKAGE}"
        f"（apt-get install {FONT_APT_PACKAGE}）",
        f"CJK font {FONT_FAMILY_NAME} not found, cannot write the PDF: install the Debian package "
        f"{FONT_APT_PACKAGE} (apt-get install {FONT_APT_PACKAGE})",
    )


@lru_cache(maxsize=4)
def _codepoints(font: FontFile) -> frozenset[int]:
    if font.path.suffix.lower() == ".ttc":
        coll = TTCollection(font.path, lazy=True)
        try:
            return frozenset(coll.fonts[font.index].getBestCmap())
        finally:
            coll.close()
    single = TTFont(font.path, lazy=True)
    try:
        return frozenset(single.getBestCmap())
    finally:
        single.close()


def safe_text(text: object, *, font: FontFile | None = None, limit: int = MAX_TEXT_CHARS) -> str:
    r"""Return ``text`` made safe for the PDF.

    Line breaks are kept, tabs become spaces, other control and format characters are removed,
    characters the font cannot draw become ``□``, and the text is cut at ``limit`` characters.

    Examples
    --------
    >>> safe_text("綦江\x00路\tA😀")
    '綦江路 A□'
    """
    raw = unicodedata.normalize("NFC", "" if text is None else str(text))
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    cps = _codepoints(font or find_cjk_font())
    out: list[str] = []
    for ch in raw:
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        elif ord(ch) in cps or ch == " ":
            out.append(ch)
        else:
            out.append("□")
    result = "".join(out)
    return result if len(result) <= limit else result[: limit - 1] + "…"


class _Document(FPDF):
    """The A4 document with the draft watermark and page footer."""

    def __init__(self, *, draft: bool, footer_text: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.draft = draft
        self.footer_text = footer_text
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(auto=True, margin=18)

    def header(self) -> None:
        """Draw the 草稿 watermark on every page of a draft."""
        if not self.draft:
            return
        with self.local_context(text_color=(235, 170, 170)):
            self.set_font(_FAMILY, "B", 72)
            cx, cy = self.w / 2, self.h / 2
            with self.rotation(45, x=cx, y=cy):
                label = "草稿 DRAFT"
                self.text(cx - self.get_string_width(label) / 2, cy + 10, label)
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        """Page number and package id."""
        self.set_y(-12)
        self.set_font(_FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        prefix = "草稿 DRAFT · " if self.draft else ""
        self.cell(0, 5, f"{prefix}{self.footer_text} · 第 {self.page_no()} 页，共 {{nb}} 页", align=Align.C)
        self.set_text_color(0, 0, 0)


def render_application_pdf(
    manifest: Mapping[str, Any],
    *,
    map_png: bytes | None,
    file_sums: Sequence[tuple[str, str]],
    font: FontFile | None = None,
    bold_font: FontFile | None = None,
) -> bytes:
    """Return ``application.pdf`` for a manifest (with or without its file list).

    Parameters
    ----------
    manifest
        The package manifest (see ``permits/schema``); its ``files`` part is not needed.
    map_png
        The overview map to print as 附图, if any.
    file_sums
        ``(path, sha256)`` of the other files of the package, printed as the attachment list.
    font, bold_font
        The CJK font files (default: :func:`find_cjk_font`).
    """
    regular = font or find_cjk_font()
    bold = bold_font or _bold_or_regular(regular)

    def t(value: object) -> str:
        return safe_text(value, font=regular)

    draft = bool(manifest["draft"])
    pdf = _Document(draft=draft, footer_text=f"申请包 {manifest['package_id']}")
    prepared = manifest.get("prepared_on")
    created = (
        dt.datetime.combine(dt.date.fromisoformat(prepared), dt.time(), tzinfo=dt.UTC)
        if prepared
        else FIXED_CREATION_DATE
    )
    pdf.set_creation_date(created)
    pdf.add_font(_FAMILY, "", str(regular.path), collection_font_number=regular.index)
    pdf.add_font(_FAMILY, "B", str(bold.path), collection_font_number=bold.index)
    title = "綦江区城市道路联合占掘路施工组织方案"
    pdf.set_title(t(("【草稿】" if draft else "") + title))
    pdf.set_author(t(manifest["lead_unit"]["unit"]))
    pdf.set_subject(t(f"投资项目统一代码 {manifest['project_code']}；联合开挖 {manifest['bundle_id']}"))
    pdf.set_creator(f"onetrench {manifest['generator']['version']}")
    pdf.set_lang("zh-CN")
    pdf.add_page()

    if draft:
        pdf.set_font(_FAMILY, "B", 13)
        pdf.set_text_color(200, 0, 0)
        pdf.set_draw_color(200, 0, 0)
        reasons = "；".join(r["zh"] for r in manifest["draft_reasons"]) or "申请人要求导出草稿"
        pdf.multi_cell(
            0,
            7,
            t(f"【草稿 DRAFT】本文件为草稿，不得作为正式申请提交。原因：{reasons}"),
            border=1,
            wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_text_color(0, 0, 0)
        pdf.set_draw_color(0, 0, 0)
        pdf.ln(3)

    pdf.set_font(_FAMILY, "B", 18)
    pdf.multi_cell(0, 10, t(title), align=Align.C, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FAMILY, "", 10)
    pdf.multi_cell(
        0,
        6,
        "Joint road excavation plan — 同一路段、同一时段",
        align=Align.C,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font(_FAMILY, "B", 13)
        pdf.multi_cell(0, 8, t(text), wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FAMILY, "", 9.5)

    def paragraph(text: str) -> None:
        pdf.set_font(_FAMILY, "", 10.5)
        pdf.multi_cell(0, 6.5, t(text), align=Align.L, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(rows: Sequence[Sequence[object]], widths: Sequence[float], *, header: bool = True) -> None:
        pdf.set_font(_FAMILY, "", 9.5)
        with pdf.table(
            col_widths=tuple(widths),
            wrapmode=WrapMode.CHAR,
            text_align="LEFT",
            line_height=5.5,
            first_row_as_headings=header,
            headings_style=FontFace(family=_FAMILY, emphasis="BOLD", fill_color=(232, 236, 242)),
            padding=1,
        ) as tbl:
            for row in rows:
                r = tbl.row()
                for cell in row:
                    r.cell(t(cell))

    win = manifest["joint_window"]
    totals = manifest["totals"]
    savings = manifest["savings"]
    region = manifest["region"]
    lead = manifest["lead_unit"]
    heading("一、项目概况")
    table(
        [
            ("投资项目统一代码", manifest["project_code"]),
            ("行政区划", f"{region['name_zh']}（{region['code']}）"),
            ("申请包编号", manifest["package_id"]),
            ("联合开挖编号", manifest["bundle_id"]),
            ("牵头单位", f"{lead['unit']}（牵头工程 {lead['lead_work_id']}）"),
            ("牵头单位联系人", f"{lead['contact']['name']}  {lead['contact']['phone']}"),
            ("联合施工时段", f"{win['start']} 至 {win['end']}，共 {win['days']} 天"),
            (
                "参建工程",
                f"{totals['works']} 项，{totals['applicants']} 个申请单位；"
                + "、".join(u["zh"] for u in totals["utilities"]),
            ),
            (
                "占掘路段",
                f"{totals['road_stretches']} 段，总长 {totals['length_m']:.1f} m，面积 {totals['area_m2']:.1f} m²",
            ),
            (
                "联合开挖效益",
                f"减少开挖 {savings['excavations_avoided']} 次，少破路面 {savings['area_not_reopened_m2']:.1f} m²，"
                f"节约路面恢复费用约 {savings['cost_saved_yuan']:,.0f} 元",
            ),
            ("状态", "草稿（不得作为正式申请提交）" if draft else "正式申请"),
        ],
        (0.28, 0.72),
        header=False,
    )

    heading("二、申请单位及联系人")
    table(
        [("申请单位", "牵头", "管线类别", "工程编号", "联系人", "联系电话")]
        + [
            (
                a["unit"],
                "是" if a["is_lead"] else "",
                "、".join(u["zh"] for u in a["utilities"]),
                "、".join(a["work_ids"]),
                a["contact"]["name"],
                a["contact"]["phone"],
            )
            for a in manifest["applicants"]
        ],
        (0.26, 0.07, 0.12, 0.22, 0.13, 0.20),
    )

    heading("三、占掘路段")
    table(
        [("道路名称", "起止桩号", "长度 (m)", "宽度 (m)", "面积 (m²)", "路面类型", "道路保护期")]
        + [
            (
                s["road_name"],
                s["from_to_zh"].removeprefix(s["road_name"]).strip().removeprefix("桩号").strip(),
                f"{s['length_m']:.1f}",
                f"{s['width_m']:.2f}",
                f"{s['area_m2']:.1f}",
                s["pavement"]["zh"],
                s["moratorium"]["zh"],
            )
            for s in manifest["road_stretches"]
        ],
        (0.14, 0.24, 0.09, 0.09, 0.10, 0.14, 0.20),
    )

    heading("四、参建工程")
    table(
        [("工程编号", "管线类别", "建设单位", "规格", "施工方式", "槽宽×埋深 (m)", "计划工期")]
        + [
            (
                w["work_id"] + ("（牵头）" if w["is_lead"] else "") + ("（抢修）" if w["emergency"] else ""),
                w["utility"]["zh"],
                w["owner"],
                w["size"]["text_zh"],
                w["method"]["zh"],
                f"{_num(w['trench_width_m'])} × {_num(w['depth_m'])}",
                f"{w['start']} 至\n{w['end']}",
            )
            for w in manifest["works"]
        ],
        (0.15, 0.09, 0.21, 0.15, 0.11, 0.13, 0.16),
    )

    heading("五、交通组织方案")
    paragraph(manifest["traffic_organisation"]["text_zh"])
    if manifest["traffic_organisation"]["is_default"]:
        paragraph("（以上为系统默认文本，请申请人根据现场情况修改。）")

    heading("六、路面恢复方案")
    paragraph(manifest["restoration_plan"]["text_zh"])
    if manifest["restoration_plan"]["is_default"]:
        paragraph("（以上为系统默认文本，请申请人根据现场情况修改。）")

    heading("七、尚未关闭的问题")
    findings = manifest["open_findings"]
    if findings:
        table(
            [("类型", "严重程度", "涉及工程", "说明", "建议处理")]
            + [
                (
                    f["kind"]["zh"],
                    f["severity"]["zh"],
                    "、".join(f["work_ids"]),
                    (f"{f['road_name']}：" if f["road_name"] else "") + f["zh"],
                    f["fix_zh"],
                )
                for f in findings
            ],
            (0.15, 0.10, 0.15, 0.35, 0.25),
        )
    else:
        paragraph("无。")

    heading("八、附件及 SHA-256 校验值")
    pdf.set_font(_FAMILY, "", 8)
    table([("文件", "SHA-256"), *[(path, digest) for path, digest in file_sums]], (0.25, 0.75))
    for m in manifest.get("missing_files", []):
        paragraph(f"{m['path']}：{m['zh']}")

    heading("九、签章")
    paragraph(f"牵头单位（盖章）：{lead['unit']}")
    for a in manifest["applicants"]:
        if not a["is_lead"]:
            paragraph(f"参建单位（盖章）：{a['unit']}")
    paragraph("日期：＿＿＿＿年＿＿月＿＿日")

    if map_png:
        pdf.add_page()
        heading("附图：联合开挖位置示意图")
        width = pdf.w - pdf.l_margin - pdf.r_margin
        room = pdf.h - pdf.get_y() - 25
        aspect = _png_aspect(map_png)  # height / width
        if aspect * width > room:
            width = room / aspect
        try:
            pdf.image(io.BytesIO(map_png), x=pdf.l_margin, y=pdf.get_y() + 2, w=width, h=width * aspect)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:  # PIL's errors for a damaged image
            raise InputError(f"map.png 无法读取：{exc}", f"map.png cannot be read: {exc}") from exc

    return bytes(pdf.output())


def _png_aspect(png: bytes) -> float:
    """Height / width of a PNG from its IHDR chunk (1.0 when it cannot be read)."""
    if png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR":
        w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        if w > 0 and h > 0:
            return h / w
    return 1.0


def _num(value: object) -> str:
    return "—" if value is None else f"{float(str(value)):g}"


def _bold_or_regular(regular: FontFile) -> FontFile:
    try:
        return find_cjk_font(bold=True)
    except ConfigError:
        return regular
