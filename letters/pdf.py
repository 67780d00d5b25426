"""Letters to PDF: one HTML document (letters/templates/letters.html, a page or more per letter) laid out by
WeasyPrint, which embeds the subset of the Chinese font it used (fontconfig finds Noto CJK: scripts/setup.sh
installs fonts-noto-cjk). The QR code is an SVG made by segno (pure Python)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kit.settings import LetterSettings
from letters.content import Letter

TEMPLATES = Path(__file__).parent / "templates"
QR_SCALE = 3  # px per module in the SVG; the print size is set in the stylesheet


def qr_data_uri(code: str) -> str:
    """The letter code as a QR code (error correction M: a crumpled or smudged receipt still scans)."""
    return str(segno.make(code, error="m").svg_data_uri(scale=QR_SCALE, border=2))


def letters_html(letters: list[Letter], *, settings: LetterSettings, hotline: str, dated: date) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    template = env.get_template("letters.html")
    return template.render(letters=letters, settings=settings, hotline=hotline, qr=qr_data_uri,
                           dated=f"{dated.year}年{dated.month}月{dated.day}日",
                           day=lambda d: f"{d.year}年{d.month}月{d.day}日")


def write_pdf(letters: list[Letter], out: Path, *, settings: LetterSettings, hotline: str, dated: date) -> int:
    """Write the letters as one PDF at `out`; returns its number of pages."""
    from weasyprint import HTML  # imported here: loading pango takes a moment, and only this command needs it

    document = HTML(string=letters_html(letters, settings=settings, hotline=hotline, dated=dated),
                    base_url=str(TEMPLATES)).render()
    document.write_pdf(str(out))
    return len(document.pages)
