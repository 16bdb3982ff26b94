// The lesson's shared whiteboard: drawing tools, the document kept in step with the server
// (by its version), strokes streamed while drawn, and operations queued while offline.
import { t } from "/static/i18n.js";
import { session } from "/static/session.js";
import { drawItem } from "/static/board-draw.js";

const ACK_TIMEOUT = 8000;
const INK_BATCH = 200;
const INK_STALE_MS = 6000;
const LASER_STALE_MS = 2500;
const COLORS = ["#1f2937", "#dc2626", "#2563eb", "#16a34a", "#f59e0b", "#9333ea"];
const TOOLS = ["pen", "highlighter", "eraser", "line", "rect", "ellipse", "text", "laser"];
const TOOL_ICONS = {
  pen: "✎",
  highlighter: "▍",
  eraser: "⌫",
  line: "╱",
  rect: "▭",
  ellipse: "◯",
  text: "T",
  laser: "◉",
};
const RETRY_LATER = new Set(["offline", "timeout", "rate_limited", "internal", "not_in_room"]);

function newId() {
  const bytes = new Uint8Array(10);
  crypto.getRandomValues(bytes);
  return "s" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function el(tag, attrs = {}, text) {
  const made = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "className") made.className = value;
    else made.setAttribute(key, value);
  }
  if (text !== undefined) made.textContent = text;
  return made;
}

/**
 * A board inside `root`. `getSocket()` gives the live socket; `lessonId` the lesson;
 * `roster()` the students the teacher may give the pen to ([{id, name}]).
 */
export function createBoard({ root, getSocket, lessonId, roster = () => [], fullScreen = false }) {
  const B = {
    me: null,
    width: 3200,
    height: 1800,
    maxPoints: 2000,
    version: 0,
    pages: [newPage()],
    page: 0,
    joined: false,
    joining: false,
    buffer: [],
    queue: [], // operations not yet confirmed, in order: {client_id, page, op}
    sending: false,
    tool: "pen",
    color: COLORS[0],
    size: 6,
    drawing: null,
    erasing: null,
    ink: new Map(),
    laser: new Map(),
    frame: 0,
    hadPen: false,
  };
  const ui = build();
  let dirty = true;

  function newPage() {
    return { items: new Map(), grants: new Set() };
  }

  // -- the toolbar and the canvas --------------------------------------------------------

  function build() {
    root.classList.add("board");
    if (fullScreen) root.classList.add("full");
    const bar = el("div", { className: "board-bar", role: "toolbar" });
    bar.setAttribute("aria-label", t("board.toolbar"));
    const tools = {};
    for (const name of TOOLS) {
      const button = el("button", { type: "button", className: "tool", "aria-pressed": "false" });
      button.dataset.tool = name;
      button.append(el("span", { "aria-hidden": "true" }, TOOL_ICONS[name]));
      button.append(el("span", { className: "tool-name" }));
      button.addEventListener("click", () => setTool(name));
      tools[name] = button;
      bar.append(button);
    }
    const colors = el("div", { className: "colors", role: "group" });
    const colorButtons = COLORS.map((color, n) => {
      const button = el("button", { type: "button", className: "swatch", "aria-pressed": "false" });
      button.dataset.color = color;
      button.dataset.n = String(n);
      button.addEventListener("click", () => {
        B.color = color;
        renderBar();
      });
      colors.append(button);
      return button;
    });
    bar.append(colors);
    const textField = el("input", { id: "board-text", maxlength: "500", autocomplete: "off" });
    const textLabel = el("label", { for: "board-text" });
    const textWrap = el("span", { className: "board-text" });
    textWrap.append(textLabel, textField);
    textField.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        placeText(B.width / 2, B.height / 2);
      }
    });
    bar.append(textWrap);
    const actions = {};
    for (const name of ["undo", "redo", "clear", "prev", "next", "add-page", "svg", "png"]) {
      const button = el("button", { type: "button", className: "board-action" });
      button.dataset.action = name;
      actions[name] = button;
      bar.append(button);
    }
    actions.undo.addEventListener("click", () => submit({ kind: "undo" }));
    actions.redo.addEventListener("click", () => submit({ kind: "redo" }));
    actions.clear.addEventListener("click", () => submit({ kind: "clear" }));
    actions.prev.addEventListener("click", () => turn(-1));
    actions.next.addEventListener("click", () => turn(1));
    actions["add-page"].addEventListener("click", () => submit({ kind: "page.add" }));
    actions.svg.addEventListener("click", () => download("svg"));
    actions.png.addEventListener("click", () => download("png"));
    const pageText = el("span", { className: "page-no", "aria-live": "polite" });
    bar.append(pageText);

    const pen = el("div", { className: "board-pen", role: "group" });
    const penSelect = el("select", { id: "board-pen-person" });
    const penLabel = el("label", { for: "board-pen-person" });
    const grant = el("button", { type: "button", id: "board-grant" });
    const revoke = el("button", { type: "button", id: "board-revoke" });
    grant.addEventListener("click", () => giveOrTake("grant"));
    revoke.addEventListener("click", () => giveOrTake("revoke"));
    pen.append(penLabel, penSelect, grant, revoke);

    const status = el("p", { className: "board-status", role: "status", "aria-live": "polite" });
    const error = el("p", { className: "error board-error", role: "alert" });
    const stage = el("div", { className: "board-stage" });
    const description = el("p", { id: "board-description", className: "visually-hidden" });
    const canvas = el("canvas", { className: "board-canvas", role: "img" });
    canvas.setAttribute("aria-describedby", "board-description");
    const overlay = el("canvas", { className: "board-overlay", "aria-hidden": "true" });
    stage.append(canvas, overlay);
    root.append(bar, pen, status, error, stage, description);
    for (const type of ["pointerdown", "pointermove", "pointerup", "pointercancel", "pointerleave"]) {
      overlay.addEventListener(type, (event) => onPointer(type, event));
    }
    new ResizeObserver(() => resize()).observe(stage);
    document.addEventListener("keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.target instanceof HTMLInputElement) return;
      if (event.key === "z") submit({ kind: event.shiftKey ? "redo" : "undo" });
      else if (event.key === "y") submit({ kind: "redo" });
      else return;
      event.preventDefault();
    });
    return {
      bar, tools, colorButtons, textField, textLabel, textWrap, actions, pageText,
      pen, penSelect, penLabel, grant, revoke, status, error, stage, canvas, overlay, description,
    };
  }

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = ui.stage.clientWidth;
    const height = Math.round((width * B.height) / B.width);
    for (const canvas of [ui.canvas, ui.overlay]) {
      canvas.width = Math.max(1, Math.round(width * ratio));
      canvas.height = Math.max(1, Math.round(height * ratio));
      canvas.style.height = `${height}px`;
    }
    ui.stage.style.height = `${height}px`;
    dirty = true;
    schedule();
  }

  function setTool(name) {
    B.tool = name;
    renderBar();
    if (name === "text") ui.textField.focus();
  }

  // -- rights ----------------------------------------------------------------------------

  function staff() {
    return B.me && (B.me.standing === "teacher" || B.me.standing === "panel");
  }

  function hasPen(page = B.page) {
    if (!B.me) return false;
    return staff() || Boolean(B.pages[page]?.grants.has(B.me.person_id));
  }

  // -- keeping in step with the server -----------------------------------------------------

  async function call(event, payload) {
    const socket = getSocket();
    if (!socket?.connected) return { ok: false, error: { code: "offline" } };
    try {
      return await socket.timeout(ACK_TIMEOUT).emitWithAck(event, payload);
    } catch {
      return { ok: false, error: { code: "timeout" } };
    }
  }

  /** Called after every (re)entry into the room: load the board or what was missed. */
  async function joined() {
    if (B.joining) return;
    B.joining = true;
    B.buffer = [];
    const payload = { lesson_id: lessonId };
    if (B.joined) payload.since = B.version;
    const reply = await call("board.join", payload);
    B.joining = false;
    if (!reply?.ok) {
      showError(reply?.error);
      return;
    }
    const data = reply.data;
    B.me = data.me;
    B.width = data.width;
    B.height = data.height;
    B.maxPoints = data.max_points;
    if (data.full) {
      B.pages = data.pages.map((view) => {
        const page = newPage();
        for (const item of view.items) page.items.set(item.id, item);
        page.grants = new Set(view.grants);
        return page;
      });
      B.version = data.version;
    } else {
      for (const effect of data.effects) apply(effect);
    }
    B.joined = true;
    B.page = Math.min(B.page, B.pages.length - 1);
    const waiting = B.buffer;
    B.buffer = [];
    for (const effect of waiting) apply(effect);
    noticePen();
    renderBar();
    dirty = true;
    schedule();
    flush();
  }

  function onOp(frame) {
    const effect = frame?.data;
    if (!effect || typeof effect.seq !== "number") return;
    if (B.joining || !B.joined) {
      B.buffer.push(effect);
      return;
    }
    apply(effect);
    noticePen();
    renderBar();
  }

  function apply(effect) {
    if (effect.seq <= B.version) return;
    if (effect.seq !== B.version + 1) {
      resync();
      return;
    }
    if (effect.kind === "page.add") {
      B.pages.push(newPage());
    } else {
      const page = B.pages[effect.page];
      if (!page) return resync();
      if (effect.kind === "grant") page.grants.add(effect.person);
      else if (effect.kind === "revoke") page.grants.delete(effect.person);
      if (effect.item) {
        page.items.set(effect.item.id, effect.item);
        dropInk(effect.item.id);
      }
      for (const id of effect.hide ?? []) {
        const item = page.items.get(id);
        if (item) item.hidden = true;
      }
      for (const id of effect.show ?? []) {
        const item = page.items.get(id);
        if (!item) return resync(); // hidden before this tab loaded the board
        item.hidden = false;
      }
    }
    B.version = effect.seq;
    if (effect.client_id && effect.actor === B.me?.person_id) confirmQueued(effect.client_id);
    dirty = true;
    schedule();
  }

  function resync() {
    B.joined = false;
    B.version = 0;
    joined();
  }

  function confirmQueued(clientId) {
    B.queue = B.queue.filter((entry) => entry.client_id !== clientId);
    root.dataset.queued = String(B.queue.length);
  }

  function submit(op, page = B.page) {
    if (!B.me) return;
    B.queue.push({ client_id: newId(), page, op });
    root.dataset.queued = String(B.queue.length);
    dirty = true;
    schedule();
    flush();
  }

  async function flush() {
    if (B.sending || !B.joined) return;
    B.sending = true;
    try {
      while (B.queue.length) {
        const entry = B.queue[0];
        const reply = await call("board.op", { lesson_id: lessonId, ...entry });
        if (reply?.ok) {
          if (B.queue[0] === entry) B.queue.shift();
          if (reply.data.repeated || reply.data.seq > B.version) {
            // Our own effect arrives live; a repeat was applied before.
            if (reply.data.seq > B.version + 1) resync();
          }
          continue;
        }
        const code = reply?.error?.code ?? "internal";
        if (RETRY_LATER.has(code)) break; // kept: sent again after the next join
        B.queue = B.queue.filter((held) => held !== entry); // refused: rolled back
        showError(reply.error);
        dirty = true;
        schedule();
      }
    } finally {
      B.sending = false;
      root.dataset.queued = String(B.queue.length);
    }
  }

  function showError(error) {
    const code = error?.code ?? "internal";
    const key = "board.refused." + code;
    const text = t(key) === key ? t("error.generic", { message: error?.message || code }) : t(key);
    ui.error.textContent = text;
    window.clearTimeout(ui.error.timer);
    ui.error.timer = window.setTimeout(() => {
      ui.error.textContent = "";
    }, 6000);
  }

  function noticePen() {
    const now = hasPen();
    if (B.me && !staff() && now !== B.hadPen) {
      ui.status.textContent = t(now ? "board.pen.given" : "board.pen.taken");
    }
    B.hadPen = now;
  }

  // -- streamed ink and the laser ------------------------------------------------------------

  function onInk(frame) {
    const ink = frame?.data;
    if (!ink || ink.person === B.me?.person_id) return;
    if (ink.end) {
      dropInk(ink.stroke);
      return;
    }
    const page = B.pages[ink.page];
    if (!page || page.items.has(ink.stroke)) return;
    const known = B.ink.get(ink.stroke);
    const shape = !["pen", "highlighter"].includes(ink.tool);
    if (known && !shape) known.points.push(...ink.points);
    else B.ink.set(ink.stroke, { ...ink, points: [...ink.points] });
    B.ink.get(ink.stroke).at = performance.now();
    schedule();
  }

  function dropInk(id) {
    if (B.ink.delete(id)) schedule();
  }

  function onLaser(frame) {
    const laser = frame?.data;
    if (!laser || laser.person === B.me?.person_id) return;
    if (laser.visible) B.laser.set(laser.person, { ...laser, at: performance.now() });
    else B.laser.delete(laser.person);
    schedule();
  }

  function sendInk(stroke, points, end = false) {
    const socket = getSocket();
    if (!socket?.connected || !hasPen(stroke.page)) return;
    for (let at = 0; at < points.length || (end && at === 0); at += INK_BATCH * 3) {
      socket.emit("board.ink", {
        lesson_id: lessonId,
        page: stroke.page,
        stroke: stroke.id,
        tool: stroke.tool,
        color: stroke.color,
        width: stroke.width,
        points: points.slice(at, at + INK_BATCH * 3),
        end,
      });
      if (end) break;
    }
  }

  // -- pointer input -------------------------------------------------------------------------

  function boardPoint(event) {
    const box = ui.overlay.getBoundingClientRect();
    const x = Math.round(((event.clientX - box.left) / box.width) * B.width);
    const y = Math.round(((event.clientY - box.top) / box.height) * B.height);
    const pressure = event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 0.5;
    return [x, y, Math.max(1, Math.min(100, Math.round(pressure * 100)))];
  }

  function onPointer(type, event) {
    if (!B.joined) return;
    const [x, y, p] = boardPoint(event);
    if (type === "pointerdown") {
      ui.overlay.setPointerCapture?.(event.pointerId);
      event.preventDefault();
      if (B.tool === "laser") return laserAt(x, y, true);
      if (B.tool === "text") return placeText(x, y);
      if (B.tool === "eraser") {
        B.erasing = new Set();
        return eraseAt(x, y);
      }
      B.drawing = {
        id: newId(),
        page: B.page,
        tool: B.tool,
        color: B.color,
        width: B.tool === "highlighter" ? B.size * 4 : B.size,
        points: B.tool === "pen" || B.tool === "highlighter" ? [x, y, p] : [x, y, x, y],
        sent: 0,
      };
      schedule();
      return;
    }
    if (type === "pointermove") {
      if (B.tool === "laser" && (event.buttons || event.pointerType === "mouse")) {
        return laserAt(x, y, Boolean(event.buttons));
      }
      if (B.erasing) return eraseAt(x, y);
      const stroke = B.drawing;
      if (!stroke) return;
      const events = event.getCoalescedEvents?.() ?? [event];
      if (stroke.tool === "pen" || stroke.tool === "highlighter") {
        for (const one of events.length ? events : [event]) stroke.points.push(...boardPoint(one));
        if (stroke.points.length / 3 >= B.maxPoints) split(stroke);
      } else {
        stroke.points[2] = x;
        stroke.points[3] = y;
        stroke.sent = 0;
      }
      schedule();
      return;
    }
    if (B.tool === "laser") return laserAt(x, y, false);
    if (B.erasing) {
      const ids = [...B.erasing].slice(0, 200);
      B.erasing = null;
      if (ids.length) submit({ kind: "erase", ids });
      return;
    }
    if (B.drawing && type !== "pointerleave") finish(B.drawing);
    else if (B.drawing && type === "pointerleave" && !event.buttons) finish(B.drawing);
  }

  function finish(stroke) {
    B.drawing = null;
    flushInk(stroke);
    const { id, tool, color, width, points } = stroke;
    submit({ kind: "add", item: { id, tool, color, width, points } }, stroke.page);
  }

  function split(stroke) {
    // A long stroke goes on as a new one from its last point: nothing is cut off.
    const last = stroke.points.slice(-3);
    finish(stroke);
    B.drawing = { ...stroke, id: newId(), points: [...last], sent: 0 };
  }

  function flushInk(stroke) {
    const shape = !(stroke.tool === "pen" || stroke.tool === "highlighter");
    if (shape) {
      if (!stroke.sent) sendInk(stroke, stroke.points);
      stroke.sent = 1;
      return;
    }
    const fresh = stroke.points.slice(stroke.sent);
    if (fresh.length) sendInk(stroke, fresh);
    stroke.sent = stroke.points.length;
  }

  function eraseAt(x, y) {
    const page = B.pages[B.page];
    const reach = 24;
    for (const item of page.items.values()) {
      if (item.hidden || B.erasing.has(item.id)) continue;
      if (staff() || item.author === B.me?.person_id) {
        if (hits(item, x, y, reach)) B.erasing.add(item.id);
      }
    }
    schedule();
  }

  function hits(item, x, y, reach) {
    const p = item.points;
    if (item.tool === "pen" || item.tool === "highlighter") {
      for (let n = 0; n < p.length; n += 3) {
        if (Math.hypot(p[n] - x, p[n + 1] - y) <= reach + item.width) return true;
      }
      return false;
    }
    if (item.tool === "text") return Math.abs(p[0] - x) < 300 && Math.abs(p[1] - y) < 80;
    const [x1, y1, x2, y2] = p;
    return (
      x >= Math.min(x1, x2) - reach &&
      x <= Math.max(x1, x2) + reach &&
      y >= Math.min(y1, y2) - reach &&
      y <= Math.max(y1, y2) + reach
    );
  }

  function placeText(x, y) {
    const text = ui.textField.value.trim();
    if (!text) {
      ui.textField.focus();
      showError({ code: "text_empty" });
      return;
    }
    ui.textField.value = "";
    submit({
      kind: "add",
      item: { id: newId(), tool: "text", color: B.color, width: B.size, points: [x, y], text },
    });
  }

  function laserAt(x, y, visible) {
    const socket = getSocket();
    const now = performance.now();
    if (visible && now - (B.laserSent ?? 0) < 30) return;
    B.laserSent = now;
    B.myLaser = visible ? { page: B.page, x, y } : null;
    schedule();
    if (!socket?.connected || !hasPen()) return;
    socket.emit("board.laser", { lesson_id: lessonId, page: B.page, x, y, visible });
  }

  // -- drawing -------------------------------------------------------------------------------

  function schedule() {
    if (B.frame) return;
    B.frame = window.requestAnimationFrame(() => {
      B.frame = 0;
      if (B.drawing) flushInk(B.drawing); // the pen's points go out once per frame
      if (dirty) {
        dirty = false;
        drawBase();
      }
      drawOverlay();
    });
  }

  function pendingView() {
    // What this tab has sent and not yet seen confirmed, applied on top of the document.
    const added = [];
    const hidden = new Set();
    for (const entry of B.queue) {
      if (entry.page !== B.page) continue;
      if (entry.op.kind === "add") added.push(entry.op.item);
      if (entry.op.kind === "erase") for (const id of entry.op.ids) hidden.add(id);
    }
    return { added, hidden };
  }

  function drawBase() {
    const ctx = ui.canvas.getContext("2d");
    const scale = ui.canvas.width / B.width;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, ui.canvas.width, ui.canvas.height);
    const page = B.pages[B.page];
    if (!page) return;
    const { added, hidden } = pendingView();
    for (const item of page.items.values()) {
      if (!item.hidden && !hidden.has(item.id)) drawItem(ctx, item, scale);
    }
    for (const item of added) drawItem(ctx, item, scale);
    describe(page, added.length);
  }

  function drawOverlay() {
    const ctx = ui.overlay.getContext("2d");
    const scale = ui.overlay.width / B.width;
    ctx.clearRect(0, 0, ui.overlay.width, ui.overlay.height);
    const now = performance.now();
    for (const [id, ink] of B.ink) {
      if (now - ink.at > INK_STALE_MS) B.ink.delete(id);
      else if (ink.page === B.page) drawItem(ctx, ink, scale);
    }
    if (B.drawing && B.drawing.page === B.page) drawItem(ctx, B.drawing, scale);
    if (B.erasing) {
      const page = B.pages[B.page];
      for (const id of B.erasing) {
        const item = page.items.get(id);
        if (item) drawItem(ctx, { ...item, color: "#9ca3af" }, scale, 0.8);
      }
    }
    const dots = [...B.laser.values()].filter((l) => now - l.at < LASER_STALE_MS);
    if (B.myLaser) dots.push(B.myLaser);
    for (const dot of dots) {
      if (dot.page !== B.page) continue;
      ctx.beginPath();
      ctx.fillStyle = "rgba(239, 68, 68, 0.85)";
      ctx.arc(dot.x * scale, dot.y * scale, Math.max(5, 14 * scale), 0, Math.PI * 2);
      ctx.fill();
    }
    if (B.ink.size || B.laser.size) window.setTimeout(schedule, 500);
  }

  function describe(page, pending) {
    const items = [...page.items.values()].filter((item) => !item.hidden);
    const texts = items.filter((item) => item.tool === "text").map((item) => item.text);
    ui.canvas.setAttribute(
      "aria-label",
      t("board.canvas", { page: B.page + 1, pages: B.pages.length }),
    );
    ui.description.textContent = [
      t("board.describe", { count: items.length + pending }),
      texts.length ? t("board.describe.texts", { texts: texts.join("; ") }) : "",
    ].join(" ");
  }

  // -- the toolbar's state -------------------------------------------------------------------

  function renderBar() {
    for (const [name, button] of Object.entries(ui.tools)) {
      button.setAttribute("aria-pressed", String(B.tool === name));
      button.querySelector(".tool-name").textContent = t("board.tool." + name);
      button.title = t("board.tool." + name);
    }
    ui.colorButtons.forEach((button, n) => {
      button.setAttribute("aria-pressed", String(B.color === COLORS[n]));
      button.setAttribute("aria-label", t("board.color." + n));
    });
    ui.textLabel.textContent = t("board.text");
    ui.textWrap.hidden = B.tool !== "text";
    const labels = {
      undo: "board.undo",
      redo: "board.redo",
      clear: "board.clear",
      prev: "board.prev",
      next: "board.next",
      "add-page": "board.add_page",
      svg: "board.svg",
      png: "board.png",
    };
    for (const [name, key] of Object.entries(labels)) ui.actions[name].textContent = t(key);
    ui.actions.clear.hidden = !staff();
    ui.actions["add-page"].hidden = !staff();
    ui.actions.prev.disabled = B.page === 0;
    ui.actions.next.disabled = B.page >= B.pages.length - 1;
    ui.pageText.textContent = t("board.page", { page: B.page + 1, pages: B.pages.length });
    ui.bar.setAttribute("aria-label", t("board.toolbar"));
    const teacher = B.me?.standing === "teacher";
    ui.pen.hidden = !teacher;
    if (teacher) renderPen();
    root.dataset.pen = String(hasPen());
    root.dataset.version = String(B.version);
    root.dataset.queued = String(B.queue.length);
    if (!staff() && B.me) {
      ui.status.dataset.pen = String(hasPen());
      if (!ui.status.textContent) {
        ui.status.textContent = t(hasPen() ? "board.pen.yours" : "board.pen.none");
      }
    }
  }

  function renderPen() {
    ui.penLabel.textContent = t("board.pen.person");
    ui.grant.textContent = t("board.pen.give");
    ui.revoke.textContent = t("board.pen.take");
    const grants = B.pages[B.page]?.grants ?? new Set();
    const chosen = ui.penSelect.value;
    ui.penSelect.replaceChildren(
      ...roster().map((person) => {
        const option = el("option", { value: String(person.id) });
        option.textContent = grants.has(person.id)
          ? `${person.name} — ${t("board.pen.has")}`
          : person.name;
        return option;
      }),
    );
    if (chosen) ui.penSelect.value = chosen;
  }

  function giveOrTake(kind) {
    const id = Number(ui.penSelect.value);
    if (id) submit({ kind, person_id: id });
  }

  function turn(step) {
    B.page = Math.max(0, Math.min(B.pages.length - 1, B.page + step));
    ui.status.textContent = "";
    renderBar();
    dirty = true;
    schedule();
  }

  async function download(kind) {
    const path = `/api/lessons/${lessonId}/board/pages/${B.page}.${kind}`;
    let response;
    try {
      response = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
    } catch {
      showError({ code: "offline" });
      return;
    }
    if (!response.ok) {
      showError({ code: "export_failed" });
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `board-lesson-${lessonId}-page-${B.page + 1}.${kind}` });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // Track the board's length: after adding a page, go to it.
  const shownPages = { count: 1 };
  function followNewPage() {
    if (B.pages.length > shownPages.count && staff()) B.page = B.pages.length - 1;
    shownPages.count = B.pages.length;
  }

  renderBar();
  resize();
  return {
    joined: async () => {
      await joined();
      shownPages.count = B.pages.length;
    },
    onOp: (frame) => {
      onOp(frame);
      followNewPage();
      renderBar();
    },
    onInk,
    onLaser,
    render: () => {
      renderBar();
      dirty = true;
      schedule();
    },
    get queued() {
      return B.queue.length;
    },
  };
}

/** Wires a board to a socket: its three server events. */
export function listen(socket, board, channels) {
  socket.on("board.op", (frame) => {
    if (frame?.channel === channels.room) board.onOp(frame);
  });
  socket.on("board.ink", (frame) => {
    if (frame?.channel === channels.ink) board.onInk(frame);
  });
  socket.on("board.laser", (frame) => {
    if (frame?.channel === channels.ink) board.onLaser(frame);
  });
}
