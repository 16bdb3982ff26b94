// Lesson video: publishing one's camera and microphone (and screen), receiving everyone who
// publishes, the teacher's per-student controls, audio-only mode and who is speaking.
//
// Every peer connection is negotiated by an offer from this page and an answer from the
// media server, with all ICE candidates in the offer (the server does not trickle). Each
// publisher is received on a connection of its own. After a dropped socket the server has
// closed this page's media: `mediaJoined` publishes and subscribes again.
import { hasText, t } from "/static/i18n.js";

const MEDIA_TIMEOUT = 15000;
const GATHER_TIMEOUT = 5000;
const RETRY_DELAY = 2000;

const media = {
  env: null,
  live: false,
  publishers: new Map(), // person id → {person_id, kinds, muted, display_name}
  subs: new Map(), // person id → {pc, stream, token}
  tiles: new Map(), // person id → the tile's <li>
  allowButtons: new Map(), // person id → the teacher's "allow" toggle in the people list
  pub: null, // {pc, video (the sender of the picture)}
  camera: null, // the camera and microphone stream, kept across reconnects
  screen: null, // the shared screen's stream
  wantPublish: false,
  mayPublish: false,
  allowed: new Set(),
  audioOnly: false,
  speaking: null,
  micOff: false,
  busy: false,
  tokens: 0,
  blockedAudio: false,
  recording: false,
};

const $ = (id) => document.getElementById(id);

function me() {
  return media.env.self()?.id ?? null;
}

function teacher() {
  return media.env.teacher();
}

function nameOf(personId) {
  if (personId === me()) return t("media.you");
  const known = media.publishers.get(personId)?.display_name;
  return known || media.env.nameOf(personId);
}

function status(text) {
  $("media-status").textContent = text;
}

function refusal(error) {
  const key = "media.refused." + error.code;
  return hasText(key) ? t(key) : media.env.explain(error);
}

// -- negotiation -------------------------------------------------------------------------

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((done) => {
    const timer = window.setTimeout(done, GATHER_TIMEOUT);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        window.clearTimeout(timer);
        done();
      }
    });
  });
}

async function negotiate(pc, event, extra) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const payload = { lesson_id: media.env.lessonId, sdp: pc.localDescription.sdp, ...extra };
  const reply = await media.env.call(event, payload, MEDIA_TIMEOUT);
  if (pc.signalingState === "closed") return false;
  await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
  return true;
}

// -- receiving ---------------------------------------------------------------------------

function closeSub(personId) {
  const sub = media.subs.get(personId);
  if (!sub) return;
  media.subs.delete(personId);
  sub.pc.close();
}

async function subscribe(personId) {
  if (personId === me() || !media.live) return;
  closeSub(personId);
  const token = ++media.tokens;
  const pc = new RTCPeerConnection();
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  const stream = new MediaStream();
  media.subs.set(personId, { pc, stream, token });
  const tile = ensureTile(personId);
  pc.ontrack = (event) => {
    stream.addTrack(event.track);
    play(tile.parts.video, stream);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState !== "failed" || media.subs.get(personId)?.token !== token) return;
    closeSub(personId);
    window.setTimeout(() => {
      if (media.publishers.has(personId) && !media.subs.has(personId)) subscribe(personId);
    }, RETRY_DELAY);
  };
  try {
    await negotiate(pc, "media.subscribe", { person_id: personId });
  } catch (error) {
    if (media.subs.get(personId)?.token !== token) return;
    closeSub(personId);
    if (error.code !== "not_publishing" && error.code !== "offline") status(refusal(error));
  }
}

function play(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream;
  video.play().catch(() => {
    // The browser wants a click before it plays sound.
    media.blockedAudio = true;
    renderButtons();
  });
}

function playAll() {
  media.blockedAudio = false;
  for (const tile of media.tiles.values()) {
    if (tile.parts.video.srcObject) play(tile.parts.video, tile.parts.video.srcObject);
  }
  renderButtons();
}

// -- publishing --------------------------------------------------------------------------

async function cameraStream() {
  if (media.camera?.getTracks().every((track) => track.readyState === "live")) {
    return media.camera;
  }
  media.camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  return media.camera;
}

function pictureTrack() {
  return media.screen?.getVideoTracks()[0] ?? media.camera?.getVideoTracks()[0] ?? null;
}

async function publish() {
  const stream = await cameraStream();
  closePublisher();
  const pc = new RTCPeerConnection();
  const audio = stream.getAudioTracks()[0];
  if (audio) {
    audio.enabled = !media.micOff;
    pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
  }
  const picture = pictureTrack();
  let video = null;
  if (picture) video = pc.addTransceiver(picture, { direction: "sendonly", streams: [stream] });
  media.pub = { pc, video: video?.sender ?? null };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed" && media.pub?.pc === pc && media.wantPublish) {
      window.setTimeout(() => media.wantPublish && media.live && publish().catch(() => {}), RETRY_DELAY);
    }
  };
  media.wantPublish = true;
  await negotiate(pc, "media.publish", {});
  const tile = ensureTile(me());
  tile.parts.video.muted = true; // one's own picture, never one's own sound
  play(tile.parts.video, new MediaStream(picture ? [picture] : []));
}

function closePublisher() {
  media.pub?.pc.close();
  media.pub = null;
}

function stopLocal() {
  for (const stream of [media.camera, media.screen]) {
    for (const track of stream?.getTracks() ?? []) track.stop();
  }
  media.camera = null;
  media.screen = null;
}

async function stopPublishing(tellServer = true) {
  media.wantPublish = false;
  closePublisher();
  stopLocal();
  removeTile(me());
  if (tellServer) {
    try {
      await media.env.call("media.unpublish", { lesson_id: media.env.lessonId });
    } catch {
      // The server closes it anyway when the connection goes.
    }
  }
}

async function toggleCamera() {
  if (media.busy) return;
  media.busy = true;
  status("");
  try {
    if (media.wantPublish) {
      await stopPublishing();
      status(t("media.camera.stopped"));
    } else {
      status(t("media.camera.starting"));
      await publish();
      status(t("media.camera.started"));
    }
  } catch (error) {
    if (error.name === "NotAllowedError" || error.name === "NotFoundError") {
      status(t("media.camera.refused"));
    } else {
      status(refusal(error));
    }
    if (!media.pub || media.pub.pc.signalingState === "closed") await stopPublishing(false);
  } finally {
    media.busy = false;
    renderButtons();
  }
}

function toggleMic() {
  media.micOff = !media.micOff;
  for (const track of media.camera?.getAudioTracks() ?? []) track.enabled = !media.micOff;
  status(t(media.micOff ? "media.mic.off" : "media.mic.on"));
  renderButtons();
}

// Screen sharing replaces the picture of one's publication, so every viewer keeps one
// connection and the server one video track per publisher.
async function toggleScreen() {
  if (media.screen) {
    stopScreen();
    return;
  }
  let screen;
  try {
    screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch {
    status(t("media.screen.refused"));
    return;
  }
  media.screen = screen;
  screen.getVideoTracks()[0].addEventListener("ended", stopScreen);
  try {
    if (!media.wantPublish) await publish();
    else await media.pub?.video?.replaceTrack(pictureTrack());
    showOwnPicture();
    status(t("media.screen.started"));
  } catch (error) {
    status(refusal(error));
    stopScreen();
  }
  renderButtons();
}

function stopScreen() {
  for (const track of media.screen?.getTracks() ?? []) track.stop();
  media.screen = null;
  media.pub?.video?.replaceTrack(pictureTrack()).catch(() => {});
  showOwnPicture();
  status(t("media.screen.stopped"));
  renderButtons();
}

function showOwnPicture() {
  const tile = media.tiles.get(me());
  const picture = pictureTrack();
  if (tile && picture) play(tile.parts.video, new MediaStream([picture]));
}

async function toggleAudioOnly() {
  const wanted = !media.audioOnly;
  try {
    await media.env.call("media.audio_only", { lesson_id: media.env.lessonId, audio_only: wanted });
    media.audioOnly = wanted;
    status(t(wanted ? "media.audio_only.on" : "media.audio_only.off"));
  } catch (error) {
    status(refusal(error));
  }
  renderButtons();
  renderTiles();
}

// -- the teacher's controls -------------------------------------------------------------

async function setAllowed(personId, allowed) {
  const name = nameOf(personId);
  try {
    await media.env.call("media.allow", { lesson_id: media.env.lessonId, person_id: personId, allowed });
    if (allowed) media.allowed.add(personId);
    else media.allowed.delete(personId);
    status(t(allowed ? "media.allow.done" : "media.forbid.done", { name }));
  } catch (error) {
    status(refusal(error));
  }
  renderAllowButtons();
}

async function toggleMute(personId) {
  const muted = media.publishers.get(personId)?.muted.includes("audio") ?? false;
  const payload = {
    lesson_id: media.env.lessonId,
    person_id: personId,
    muted: !muted,
    kinds: ["audio"],
  };
  try {
    const reply = await media.env.call("media.mute", payload);
    const held = media.publishers.get(personId);
    if (held) held.muted = reply.muted;
    status(t(muted ? "media.unmute.done" : "media.mute.done", { name: nameOf(personId) }));
  } catch (error) {
    status(refusal(error));
  }
  renderTiles();
}

/** The teacher's "may use camera and microphone" toggle of one student (people list). */
export function mediaAllowButton(personId) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "small-button toggle";
  button.addEventListener("click", () => setAllowed(personId, !media.allowed.has(personId)));
  media.allowButtons.set(personId, button);
  renderAllowButton(personId, button);
  return button;
}

function renderAllowButton(personId, button) {
  const label = document.createElement("span");
  label.className = "visually-hidden";
  label.textContent = `: ${nameOf(personId)}`;
  button.replaceChildren(t("media.allow"), label);
  button.setAttribute("aria-pressed", String(media.allowed.has(personId)));
  button.hidden = !media.live;
}

function renderAllowButtons() {
  for (const [personId, button] of media.allowButtons) {
    if (!button.isConnected) media.allowButtons.delete(personId);
    else renderAllowButton(personId, button);
  }
}

// -- tiles --------------------------------------------------------------------------------

function ensureTile(personId) {
  let tile = media.tiles.get(personId);
  if (tile) return tile;
  tile = document.createElement("li");
  tile.className = "tile";
  tile.dataset.personId = personId;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  const caption = document.createElement("p");
  caption.className = "tile-name";
  const note = document.createElement("p");
  note.className = "tile-note muted small";
  const controls = document.createElement("div");
  controls.className = "tile-controls";
  const mute = document.createElement("button");
  mute.type = "button";
  mute.className = "small-button toggle mute";
  mute.addEventListener("click", () => toggleMute(personId));
  const forbid = document.createElement("button");
  forbid.type = "button";
  forbid.className = "small-button forbid";
  forbid.addEventListener("click", () => setAllowed(personId, false));
  controls.append(mute, forbid);
  tile.append(video, caption, note, controls);
  tile.parts = { video, caption, note, controls, mute, forbid };
  media.tiles.set(personId, tile);
  // The teacher's picture first, one's own last.
  const list = $("tiles");
  if (personId === media.env.teacherId()) list.prepend(tile);
  else list.append(tile);
  renderTile(personId, tile);
  return tile;
}

function removeTile(personId) {
  media.tiles.get(personId)?.remove();
  media.tiles.delete(personId);
}

function renderTile(personId, tile) {
  const { video, caption, note, controls, mute, forbid } = tile.parts;
  const name = nameOf(personId);
  const own = personId === me();
  const held = media.publishers.get(personId);
  const muted = held?.muted.includes("audio") ?? false;
  video.setAttribute("aria-label", t("media.video_of", { name }));
  caption.textContent = name;
  const notes = [];
  if (muted) notes.push(t("media.muted"));
  if (own && media.micOff) notes.push(t("media.mic.off"));
  if (own && media.screen) notes.push(t("media.screen.on"));
  if (!own && media.audioOnly) notes.push(t("media.audio_only.note"));
  note.textContent = notes.join(" · ");
  video.hidden = !own && media.audioOnly;
  tile.classList.toggle("speaking", media.speaking === personId);
  const student = !own && personId !== media.env.teacherId();
  controls.hidden = !(teacher() && student);
  mute.replaceChildren(t("media.mute"), hiddenText(`: ${name}`));
  mute.setAttribute("aria-pressed", String(muted));
  forbid.replaceChildren(t("media.forbid"), hiddenText(`: ${name}`));
}

function hiddenText(text) {
  const span = document.createElement("span");
  span.className = "visually-hidden";
  span.textContent = text;
  return span;
}

function renderTiles() {
  for (const [personId, tile] of media.tiles) renderTile(personId, tile);
  $("tiles-empty").hidden = media.tiles.size > 0;
}

function renderButtons() {
  const camera = $("media-camera");
  const canPublish = teacher() || media.mayPublish;
  camera.hidden = !canPublish;
  camera.setAttribute("aria-pressed", String(media.wantPublish));
  camera.disabled = media.busy;
  $("media-mic").hidden = !media.wantPublish;
  $("media-mic").setAttribute("aria-pressed", String(media.micOff));
  $("media-screen").hidden = !teacher() || !navigator.mediaDevices?.getDisplayMedia;
  $("media-screen").setAttribute("aria-pressed", String(Boolean(media.screen)));
  $("media-audio-only").setAttribute("aria-pressed", String(media.audioOnly));
  $("media-sound").hidden = !media.blockedAudio;
  $("media-may").hidden = teacher() || !media.mayPublish || media.wantPublish;
}

/** Shows the video panel (when the lesson is live) and every text in the current language. */
export function renderMedia(visible) {
  $("video-panel").hidden = !visible;
  renderButtons();
  renderTiles();
  renderAllowButtons();
}

// -- the room's events -------------------------------------------------------------------

function announceSpeaker() {
  const region = $("media-speaking");
  const personId = media.speaking;
  region.textContent =
    personId === null || personId === me() ? "" : t("media.speaking", { name: nameOf(personId) });
}

const EVENTS = {
  "media.published": (published) => {
    media.publishers.set(published.person_id, published);
    if (published.person_id !== me()) subscribe(published.person_id);
    renderTiles();
  },
  "media.unpublished": ({ person_id: personId }) => {
    media.publishers.delete(personId);
    if (personId === me()) {
      if (media.wantPublish && media.pub) stopPublishing(false);
    } else {
      closeSub(personId);
      removeTile(personId);
    }
    if (media.speaking === personId) media.speaking = null;
    renderTiles();
    renderButtons();
  },
  "media.allowed": ({ person_id: personId, allowed }) => {
    if (allowed) media.allowed.add(personId);
    else media.allowed.delete(personId);
    if (personId === me() && !teacher()) {
      media.mayPublish = allowed;
      media.env.announce(t(allowed ? "media.allowed.you" : "media.forbidden.you"));
      if (!allowed && media.wantPublish) stopPublishing(false);
    }
    renderAllowButtons();
    renderButtons();
  },
  "media.muted": ({ person_id: personId, muted }) => {
    const held = media.publishers.get(personId);
    const before = held?.muted.includes("audio") ?? false;
    if (held) held.muted = muted;
    if (personId === me() && before !== muted.includes("audio")) {
      media.env.announce(t(muted.includes("audio") ? "media.muted.you" : "media.unmuted.you"));
    }
    renderTiles();
  },
  "media.speaking": ({ person_id: personId }) => {
    media.speaking = personId ?? null;
    renderTiles();
    announceSpeaker();
  },
  "recording.state": ({ recording }) => {
    if (media.recording !== recording) media.env.announce(t(recording ? "lesson.recording.on" : "lesson.recording.off"));
    media.recording = recording;
    renderRecording();
  },
};

/** The "being recorded" badge everyone sees, and the teacher's record button. */
export function renderRecording() {
  const badge = $("recording-badge");
  if (badge) badge.hidden = !(media.live && media.recording);
  const button = $("record");
  if (button) {
    button.setAttribute("aria-pressed", String(media.recording));
    button.textContent = t(media.recording ? "lesson.controls.record_stop" : "lesson.controls.record");
  }
}

/** The teacher starts or stops recording the lesson. */
export async function toggleRecording() {
  const event = media.recording ? "recording.stop" : "recording.start";
  try {
    const recording = await media.env.call(event, { lesson_id: media.env.lessonId });
    media.recording = event === "recording.start";
    if (!media.recording) {
      const link = document.createElement("a");
      link.href = `/recording/${recording.id}`;
      link.textContent = t("lesson.recording.saved");
      $("media-status").replaceChildren(link);
    }
  } catch (error) {
    status(refusal(error));
  }
  renderRecording();
}

/** A `media.*` event of the room channel (lesson.js passes them on). */
export function mediaEvent(name, data) {
  if (data.lesson_id !== media.env.lessonId || !media.live) return;
  EVENTS[name]?.(data);
}

export const MEDIA_EVENTS = Object.keys(EVENTS);

/** In the live room (again): who publishes, publish again if we did, receive everyone. */
export async function mediaJoined() {
  media.live = true;
  let listing;
  try {
    listing = await media.env.call("media.list", { lesson_id: media.env.lessonId });
  } catch (error) {
    if (error.code !== "offline") status(refusal(error));
    return;
  }
  media.mayPublish = listing.may_publish;
  media.allowed = new Set(listing.allowed);
  media.speaking = listing.speaking;
  media.recording = Boolean(listing.recording);
  renderRecording();
  media.publishers = new Map(listing.publishers.map((one) => [one.person_id, one]));
  if (media.audioOnly && !listing.audio_only) {
    try {
      await media.env.call("media.audio_only", { lesson_id: media.env.lessonId, audio_only: true });
    } catch {
      media.audioOnly = false;
    }
  }
  for (const personId of [...media.tiles.keys()]) {
    if (personId !== me() && !media.publishers.has(personId)) {
      closeSub(personId);
      removeTile(personId);
    }
  }
  if (media.wantPublish && !media.pub && media.mayPublish) {
    publish().catch((error) => status(refusal(error)));
  } else if (media.wantPublish && !media.mayPublish) {
    stopPublishing(false);
  }
  for (const personId of media.publishers.keys()) {
    if (personId !== me() && !media.subs.has(personId)) subscribe(personId);
  }
  renderButtons();
  renderTiles();
  renderAllowButtons();
  announceSpeaker();
}

/** The socket dropped: the server closes this connection's media, so do we. */
export function mediaDisconnected() {
  for (const personId of [...media.subs.keys()]) closeSub(personId);
  closePublisher();
}

/** The lesson ended (or we were removed): close everything and stop the camera. */
export function mediaEnded() {
  media.live = false;
  mediaDisconnected();
  media.wantPublish = false;
  stopLocal();
  for (const personId of [...media.tiles.keys()]) removeTile(personId);
  media.publishers.clear();
  media.speaking = null;
  media.recording = false;
  renderRecording();
  renderMedia(false);
}

/**
 * Wires the panel's buttons. `env` gives the lesson id, `call(event, payload, timeout)`,
 * `announce(text)`, `explain(error)`, `self()`, `teacher()`, `teacherId()` and
 * `nameOf(personId)` for names the media server does not know.
 */
export function setupMedia(env) {
  media.env = env;
  $("media-camera").addEventListener("click", toggleCamera);
  $("media-mic").addEventListener("click", toggleMic);
  $("media-screen").addEventListener("click", toggleScreen);
  $("media-audio-only").addEventListener("click", toggleAudioOnly);
  $("media-sound").addEventListener("click", playAll);
}
