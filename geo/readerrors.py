"""Plain-language reasons for a file that a parser (GDAL, XML, JSON, zip) refused, and GDAL's warnings.

Parsers report hostile or broken files in their own terms (``DTDForbidden(name='kml', …)``,
``sqlite3_prepare_v2(…)``, a temporary path such as ``/tmp/onetrench-gpkg-x1y2/upload.gpkg`` or
``/vsizip//tmp/…``). Users read those messages, so they are translated here into what is wrong
with the file, in Chinese and English, without the server's paths.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from xml.etree.ElementTree import ParseError

#: Absolute directory prefixes (GDAL virtual file systems included) in a message.
_DIRECTORY = re.compile(r"(?:/vsi[a-z0-9_]+/)*(?:/[^/\s'\"(),:;]+)+/(?=[^/\s'\"(),:;]+)")
_VSI = re.compile(r"/vsi[a-z0-9_]+/+")
MAX_DETAIL = 200
#: A class name leading a message ("IllegalArgumentException: …").
_CLASS_PREFIX = re.compile(r"^\s*[A-Z][A-Za-z]*(?:Exception|Error)\s*:\s*")


def without_paths(message: str) -> str:
    """Drop directory prefixes (temporary folders, ``/vsizip/`` …) from a message, keeping file names.

    Examples
    --------
    >>> without_paths("/vsizip//tmp/tmpab12/roads.zip/roads.shp: not recognised")
    'roads.shp: not recognised'
    >>> without_paths("'/tmp/onetrench-gpkg-x/upload.gpkg' not recognized as a supported file format.")
    "'upload.gpkg' not recognized as a supported file format."
    """
    return _VSI.sub("/", _DIRECTORY.sub("", message)).strip()


def explain(exc: BaseException) -> tuple[str, str]:
    r"""Return (zh, en): why a parser refused a file, in words a user can act on.

    Examples
    --------
    >>> explain(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))[1]
    'the text is not UTF-8 (byte 0xff at position 0): save the file as UTF-8'
    """
    name = type(exc).__name__
    if name in {"DTDForbidden", "EntitiesForbidden", "ExternalReferenceForbidden"}:
        return (
            "文件含有 DTD 或实体声明（XML 外部实体、实体膨胀攻击的载体），出于安全考虑不予读取；"
            "正常的 KML 不需要它们，请删除 <!DOCTYPE …> 部分后重新上传",
            "the file declares a DTD or entities (the vehicle of XML external-entity and 'billion laughs' "
            "attacks) and is refused for safety; ordinary KML needs none: remove the <!DOCTYPE …> part",
        )
    if isinstance(exc, ParseError):
        line, column = getattr(exc, "position", (0, 0))
        return (
            f"XML 格式错误（第 {line} 行第 {column} 列），文件可能不完整",
            f"malformed XML at line {line}, column {column}; the file may be truncated",
        )
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1].hex()
        return (
            f"文本不是 UTF-8 编码（位置 {exc.start} 的字节 0x{byte}），请另存为 UTF-8",
            f"the text is not UTF-8 (byte 0x{byte} at position {exc.start}): save the file as UTF-8",
        )
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return ("压缩包设有密码，无法读取，请上传未加密的 zip", "the zip is password-protected: upload it unencrypted")
    if isinstance(exc, zipfile.BadZipFile):
        return ("zip 压缩包已损坏", "the zip archive is corrupt")
    if name == "DataSourceError" and "sqlite" in str(exc).lower():
        return (
            "不是有效的 GeoPackage（SQLite 数据库已损坏或不完整）",
            "not a valid GeoPackage (a corrupt or truncated SQLite database)",
        )
    detail = _CLASS_PREFIX.sub("", without_paths(f"{exc}"))[:MAX_DETAIL] or name
    if name == "GEOSException":
        return (f"几何图形无法构造：{detail}", f"a geometry cannot be built: {detail}")
    return (f"解析器报告：{detail}", f"the parser reports: {detail}")


@contextmanager
def gdal_messages() -> Iterator[list[str]]:
    """Collect GDAL's warnings (pyogrio emits them as ``RuntimeWarning``) instead of letting them escape.

    The list is filled, without directory prefixes, when the block ends.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages: list[str] = []
        yield messages
    messages.extend(without_paths(str(w.message)) for w in caught)
