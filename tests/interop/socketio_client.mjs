// Drives urok with the official socket.io-client and its msgpack parser, as a browser would.
// Usage: node socketio_client.mjs <base-url> <username> <password> <lesson-id>
// Prints one JSON object with what happened; exits non-zero on an unexpected failure.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const [baseUrl, username, password, wantedLesson] = process.argv.slice(2);
const result = {};

function connect(token) {
  return io(baseUrl, {
    transports: ["websocket"],
    parser: msgpackParser,
    auth: { token },
    reconnection: false,
    timeout: 5000,
  });
}

function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

const login = await fetch(`${baseUrl}/api/login`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ username, password }),
});
const { token } = await login.json();
result.loginStatus = login.status;

const timetable = await fetch(`${baseUrl}/api/timetable`, {
  headers: { Authorization: `Bearer ${token}` },
});
// The timetable carries this student's join link of the lesson.
const lesson = (await timetable.json()).lessons.find(
  (entry) => entry.id === Number(wantedLesson),
);
const lessonId = lesson.id;
const link = new URL(lesson.join_url, baseUrl).searchParams.get("link");

const socket = connect(token);
await once(socket, "connect");
result.connected = socket.connected;

const joined = await socket
  .timeout(5000)
  .emitWithAck("room.join", { lesson_id: lessonId, link });
result.join = { ok: joined.ok, channel: joined.data.stream.channel, state: joined.data.room.status.state };

const arrival = once(socket, "chat.message");
const sent = await socket
  .timeout(5000)
  .emitWithAck("chat.send", { lesson_id: lessonId, text: "Привет из Node 👋" });
const message = await arrival;
result.chat = { ok: sent.ok, offset: sent.data.offset, received: message };

const refusal = await socket.timeout(5000).emitWithAck("room.join", { lesson_id: "nope" });
result.badPayload = refusal.error;
socket.disconnect();

const forged = connect(token.slice(0, -4) + "AAAA");
const error = await once(forged, "connect_error");
result.forged = { message: error.message, data: error.data ?? null };
forged.close();

console.log(JSON.stringify(result));
process.exit(0);
