"""Input-derived text made inert for each place it is written: XML, Markdown, CSV, the terminal, HTML.

Benchmark names, reasons, baseline descriptions and profile fields come from files a user (or an
attacker) can edit. Every writer passes them through the function for its format here, so a control
character, a bidirectional override, a newline or a spreadsheet formula never does anything but show.
"""

from __future__ import annotations

import html
import re

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] only.
_XML_BAD = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# C0/C1 controls (but tab and newline) and the Unicode bidirectional controls (embeddings, overrides,
# isolates, marks): they reorder or hide the text around them.
_CONTROLS = re.compile("[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~<>])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def visible(text: object) -> str:
    """Control and bidi characters shown as their code point, e.g. ``\\x1b`` -> ``<U+001B>``; for the terminal."""
    return _CONTROLS.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(text))


def xml_text(text: object) -> str:
    """Characters XML 1.0 cannot hold replaced (xml.etree escapes the rest); controls shown visibly."""
    return _XML_BAD.sub(lambda m: f"<U+{ord(m.group()):04X}>", visible(text))


def markdown_text(text: object) -> str:
    """One line of Markdown (a table cell, a paragraph): HTML and Markdown syntax escaped, newlines as
    spaces, controls shown visibly."""
    one_line = visible(str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def csv_cell(value: object) -> object:
    """A CSV field that a spreadsheet shows as text: strings starting with = + - @ (or tab/CR) get a leading
    apostrophe (OWASP's advice for CSV injection); numbers and None pass unchanged."""
    if isinstance(value, str):
        text = visible(value)
        return "'" + text if text.startswith(_FORMULA_START) else text
    return value


def html_text(text: object) -> str:
    """For Jinja2's `finalize`: controls and bidi overrides shown visibly before autoescaping."""
    return visible(text)
