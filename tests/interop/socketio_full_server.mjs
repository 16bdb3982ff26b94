// The official socket.io-client against a server at its connection ceiling, with the
// reconnection the lesson page uses: refused first, then in by itself once there is room.
// Usage: node socketio_full_server.mjs <base-url> <token>
// Prints one JSON line per step: {"refused": message}, then {"connected": true}.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const [baseUrl, token] = process.argv.slice(2);
const socket = io(baseUrl, {
  transports: ["websocket"],
  parser: msgpackParser,
  auth: { token },
  reconnectionDelay: 200,
  reconnectionDelayMax: 1000,
  timeout: 5000,
});
socket.once("connect_error", (error) => {
  console.log(JSON.stringify({ refused: error.message }));
});
socket.once("connect", () => {
  console.log(JSON.stringify({ connected: socket.connected }));
  socket.disconnect();
  process.exit(0);
});
setTimeout(() => {
  console.log(JSON.stringify({ gaveUp: true }));
  process.exit(1);
}, 30000);
