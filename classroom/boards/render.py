"""A board page drawn from the document: SVG text and PNG bytes (Pillow)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from PIL import Image, ImageColor, ImageDraw, ImageFont

from classroom.boards.document import BOARD_HEIGHT, BOARD_WIDTH, Item

BACKGROUND = "#ffffff"
HIGHLIGHTER_ALPHA = 0.35


def _stroke_width(item: Item, pressure: int) -> float:
    if item.tool == "highlighter":
        return float(item.width)
    return max(1.0, item.width * (0.4 + 1.2 * pressure / 100))


def _svg_item(item: Item) -> str:
    color = escape(item.color)
    p = item.points
    if item.tool in ("pen", "highlighter"):
        opacity = f' stroke-opacity="{HIGHLIGHTER_ALPHA}"' if item.tool == "highlighter" else ""
        if len(p) == 3:
            r = _stroke_width(item, p[2]) / 2
            return f'<circle cx="{p[0]}" cy="{p[1]}" r="{r:.1f}" fill="{color}"/>'
        parts = []
        for n in range(0, len(p) - 3, 3):
            width = _stroke_width(item, p[n + 5])
            parts.append(
                f'<line x1="{p[n]}" y1="{p[n + 1]}" x2="{p[n + 3]}" y2="{p[n + 4]}" '
                f'stroke-width="{width:.1f}"/>'
            )
        return f'<g stroke="{color}" stroke-linecap="round"{opacity}>' + "".join(parts) + "</g>"
    if item.tool == "text":
        size = item.width * 6
        return (
            f'<text x="{p[0]}" y="{p[1]}" fill="{color}" font-size="{size}" '
            f'font-family="sans-serif">{escape(item.text)}</text>'
        )
    x1, y1, x2, y2 = p
    left, top, w, h = min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1)
    common = f'stroke="{color}" stroke-width="{item.width}" fill="none"'
    if item.tool == "line":
        return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" {common} stroke-linecap="round"/>'
    if item.tool == "rect":
        return f'<rect x="{left}" y="{top}" width="{w}" height="{h}" {common}/>'
    return f'<ellipse cx="{left + w / 2}" cy="{top + h / 2}" rx="{w / 2}" ry="{h / 2}" {common}/>'


def page_svg(items: list[Item], title: str) -> str:
    """The page as a standalone SVG document."""
    body = "".join(_svg_item(item) for item in items)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {BOARD_WIDTH} {BOARD_HEIGHT}" '
        f'width="{BOARD_WIDTH // 2}" height="{BOARD_HEIGHT // 2}" role="img">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{BOARD_WIDTH}" height="{BOARD_HEIGHT}" fill="{BACKGROUND}"/>{body}</svg>'
    )


def page_png(items: list[Item], *, width: int = 1600) -> bytes:
    """The page as a PNG image ``width`` pixels wide."""
    scale = width / BOARD_WIDTH
    size = (width, round(BOARD_HEIGHT * scale))
    image = Image.new("RGBA", size, BACKGROUND)
    for item in items:
        layer = image
        if item.tool == "highlighter":
            layer = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        _draw(draw, item, scale)
        if layer is not image:
            alpha = layer.getchannel("A").point(lambda v: int(v * HIGHLIGHTER_ALPHA))
            layer.putalpha(alpha)
            image = Image.alpha_composite(image, layer)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=False)
    return out.getvalue()


def _draw(draw: ImageDraw.ImageDraw, item: Item, scale: float) -> None:
    color = ImageColor.getrgb(item.color)
    p = [v * scale for v in item.points]
    if item.tool in ("pen", "highlighter"):
        points = item.points
        for n in range(0, len(points) - 3, 3):
            width = max(1, round(_stroke_width(item, points[n + 5]) * scale))
            a, b = (p[n], p[n + 1]), (p[n + 3], p[n + 4])
            draw.line([a, b], fill=color, width=width)
            r = width / 2
            draw.ellipse([b[0] - r, b[1] - r, b[0] + r, b[1] + r], fill=color)
        if len(points) >= 3:
            r = max(1.0, _stroke_width(item, points[2]) * scale / 2)
            draw.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=color)
        return
    if item.tool == "text":
        font = ImageFont.load_default(size=max(8, round(item.width * 6 * scale)))
        draw.text((p[0], p[1]), item.text, fill=color, font=font, anchor="ls")
        return
    x1, y1, x2, y2 = p
    box = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
    width = max(1, round(item.width * scale))
    if item.tool == "line":
        draw.line([(x1, y1), (x2, y2)], fill=color, width=width)
    elif item.tool == "rect":
        draw.rectangle(box, outline=color, width=width)
    else:
        draw.ellipse(box, outline=color, width=width)
