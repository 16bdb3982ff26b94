// A page's live connection: the Socket.IO client (msgpack over WebSocket) and the
// "connected / reconnecting / offline" indicator in the page's header.
import { t } from "/static/i18n.js";
import { session } from "/static/session.js";

let current = "connecting";

/** Shows the connection's state in the header (again after a language switch). */
export function renderLive() {
  const text = document.getElementById("live-text");
  text.dataset.state = current;
  text.textContent = t("live." + current);
  document.getElementById("live").dataset.state = current;
}

function setLive(live) {
  current = live;
  renderLive();
}

/**
 * Connects with the signed-in person's token. `onConnect(socket)` runs on every (re)connect;
 * `onTokenRefused()` when the server no longer takes the token. Returns the socket, or null
 * when the client script did not load. A page of one lesson names it (`lesson`) in the
 * connection's address, where a balancer may route all of a lesson's connections to one
 * worker (docs/capacity.md); the server itself does not read it.
 */
export function connectLive({ onConnect, onTokenRefused, lesson = null }) {
  if (typeof io !== "function") {
    setLive("offline");
    return null;
  }
  const options = { transports: ["websocket"], auth: { token: session.token } };
  if (lesson !== null) options.query = { lesson: String(lesson) };
  const socket = io(options);
  socket.on("connect", () => {
    setLive("connected");
    onConnect(socket);
  });
  socket.on("disconnect", () => setLive("reconnecting"));
  // The browser knows first when the network goes: drop the socket at once (what is drawn
  // meanwhile is queued), and come back as soon as the network does.
  window.addEventListener("offline", () => socket.io.engine?.close());
  window.addEventListener("online", () => {
    if (!socket.connected) socket.connect();
  });
  socket.io.on("reconnect_attempt", () => setLive("reconnecting"));
  socket.on("connect_error", (error) => {
    if (String(error.data?.code ?? "").startsWith("token_")) {
      onTokenRefused();
      return;
    }
    setLive(socket.active ? "reconnecting" : "offline");
  });
  return socket;
}
