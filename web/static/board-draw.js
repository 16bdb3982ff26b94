// Drawing the whiteboard's items on a canvas: shared by the live board and the playback of
// recordings. Coordinates are the board's (3200 × 1800), scaled by `scale`.

const HIGHLIGHTER_ALPHA = 0.35;

/** Draws one item (stroke, shape or text) onto a 2D context. */
export function drawItem(ctx, item, scale, alpha = 1) {
  const p = item.points;
  ctx.save();
  ctx.strokeStyle = item.color;
  ctx.fillStyle = item.color;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.globalAlpha = item.tool === "highlighter" ? HIGHLIGHTER_ALPHA * alpha : alpha;
  if (item.tool === "pen" || item.tool === "highlighter") {
    const width = (pressure) =>
      item.tool === "highlighter" ? item.width : Math.max(1, item.width * (0.4 + (1.2 * pressure) / 100));
    if (p.length === 3) {
      ctx.beginPath();
      ctx.arc(p[0] * scale, p[1] * scale, (width(p[2]) * scale) / 2, 0, Math.PI * 2);
      ctx.fill();
    } else if (item.tool === "highlighter") {
      ctx.lineWidth = width(0) * scale;
      ctx.beginPath();
      ctx.moveTo(p[0] * scale, p[1] * scale);
      for (let n = 3; n < p.length; n += 3) ctx.lineTo(p[n] * scale, p[n + 1] * scale);
      ctx.stroke();
    } else {
      for (let n = 3; n < p.length; n += 3) {
        ctx.lineWidth = width(p[n + 2]) * scale;
        ctx.beginPath();
        ctx.moveTo(p[n - 3] * scale, p[n - 2] * scale);
        ctx.lineTo(p[n] * scale, p[n + 1] * scale);
        ctx.stroke();
      }
    }
  } else if (item.tool === "text") {
    ctx.font = `${item.width * 6 * scale}px sans-serif`;
    ctx.fillText(item.text ?? "", p[0] * scale, p[1] * scale);
  } else {
    const [x1, y1, x2, y2] = p.map((v) => v * scale);
    ctx.lineWidth = item.width * scale;
    ctx.beginPath();
    if (item.tool === "line") {
      ctx.moveTo(x1, y1);
      ctx.lineTo(x2, y2);
    } else if (item.tool === "rect") {
      ctx.rect(Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1));
    } else {
      const rx = Math.abs(x2 - x1) / 2;
      const ry = Math.abs(y2 - y1) / 2;
      ctx.ellipse(Math.min(x1, x2) + rx, Math.min(y1, y2) + ry, rx, ry, 0, 0, Math.PI * 2);
    }
    ctx.stroke();
  }
  ctx.restore();
}

/** Paints a whole page: white, then its visible items in drawing order. */
export function paintPage(canvas, items, boardWidth) {
  const ctx = canvas.getContext("2d");
  const scale = canvas.width / boardWidth;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const item of items) if (!item.hidden) drawItem(ctx, item, scale);
}
