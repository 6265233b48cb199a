// The web client: the structured protocol over this server's own WebSocket
// (/ws), one JSON frame per message. Every text from the server is put on
// the page with textContent, never as HTML, so a peer's "<img onerror=…>"
// shows as those characters.
"use strict";

const $ = (id) => document.getElementById(id);
const HISTORY_PAGE = 50;
const MAX_BACKOFF_MS = 30000;
// Refusals that another try would only repeat.
const FINAL = new Set(["kicked", "banned", "bad_password", "unsupported_version"]);
const PALETTE = ["#c0392b", "#d35400", "#b7950b", "#27ae60", "#16a085", "#2980b9",
  "#8e44ad", "#c2185b", "#6d4c41", "#00838f", "#5e35b1", "#558b2f"];

const state = {
  name: "",         // the name asked for, then the one granted
  password: "",
  ws: null,
  welcomed: false,
  hadWelcome: false, // welcomed at least once: a refusal now is a reconnection's
  wanted: false,    // the user wants to be connected
  attempt: 0,
  retryTimer: null,
  rooms: new Map(), // key → room
  current: null,    // key of the room shown
  switchTo: null,   // key of a room asked for with /join, shown when joined
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function keyOf(room) { return room.toLowerCase(); }

function colourOf(name) {
  let hash = 2166136261;
  for (const ch of name.toLowerCase()) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return PALETTE[hash % PALETTE.length];
}

function clock(time) {
  const when = new Date(time);
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function mentions(text) {
  if (!state.name) return false;
  const name = state.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${name}($|[^\\p{L}\\p{N}_])`, "iu").test(text);
}

// ---- rooms ----------------------------------------------------------------

function ensureRoom(name, isPrivate) {
  const key = keyOf(name);
  let room = state.rooms.get(key);
  if (!room) {
    const log = el("div", "room-log");
    log.hidden = true;
    const earlier = el("button", "earlier", isPrivate ? "private conversation" : "load earlier messages");
    earlier.type = "button";
    earlier.disabled = isPrivate;
    earlier.addEventListener("click", () => askHistory(room));
    log.append(earlier);
    room = {
      key, name, isPrivate, topic: "", users: new Set(), log, earlier,
      unread: 0, mention: false, left: false, seqs: new Set(), oldest: null,
      more: !isPrivate, historyPending: false, historyBuffer: [], scroll: null,
    };
    state.rooms.set(key, room);
    $("log").append(log);
    if (!state.current) showRoom(key);
  }
  renderRooms();
  return room;
}

function showRoom(key) {
  const room = state.rooms.get(key);
  if (!room) return;
  const old = state.rooms.get(state.current);
  if (old) {
    old.scroll = atBottom() ? null : $("log").scrollTop;
    old.log.hidden = true;
  }
  state.current = key;
  room.log.hidden = false;
  room.unread = 0;
  room.mention = false;
  $("log").scrollTop = room.scroll === null ? $("log").scrollHeight : room.scroll;
  document.body.classList.remove("show-rooms");
  renderRooms();
  renderHeading();
  renderUsers();
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const room of state.rooms.values()) {
    const item = el("li");
    item.dataset.room = room.name;
    item.classList.toggle("current", room.key === state.current);
    item.classList.toggle("unread", room.unread > 0);
    item.classList.toggle("left", room.left);
    item.append(el("span", "room-name", room.isPrivate ? room.name : `#${room.name}`));
    if (room.mention) item.append(el("span", "mention-mark", "@"));
    if (room.unread > 0) item.append(el("span", "badge", String(room.unread)));
    item.addEventListener("click", () => { showRoom(room.key); $("compose").focus(); });
    list.append(item);
  }
  const unread = [...state.rooms.values()].reduce((n, r) => n + r.unread, 0);
  document.title = unread > 0 ? `(${unread}) chat` : "chat";
}

function renderHeading() {
  const room = state.rooms.get(state.current);
  if (!room) return;
  $("room-title").textContent = room.isPrivate ? room.name : `#${room.name}`;
  let topic = room.topic || (room.isPrivate ? "" : "no topic");
  if (room.left) topic = room.isPrivate ? "" : `you are not in this room: /join #${room.name}`;
  $("topic").textContent = topic;
}

function renderUsers() {
  const room = state.rooms.get(state.current);
  const list = $("users");
  list.replaceChildren();
  if (!room) return;
  const names = [...room.users].sort((a, b) => a.localeCompare(b));
  const count = room.headcount ?? names.length;
  $("user-count").textContent = room.isPrivate ? "Private" : `People (${count})`;
  for (const name of names) {
    const item = el("li", name === state.name ? "me" : "", name);
    item.style.color = colourOf(name);
    item.title = `message ${name} privately`;
    item.addEventListener("click", () => {
      if (name !== state.name) { ensureRoom(`@${name}`, true); showRoom(keyOf(`@${name}`)); }
    });
    list.append(item);
  }
}

// ---- the conversation -------------------------------------------------------

function atBottom() {
  const log = $("log");
  return log.scrollHeight - log.scrollTop - log.clientHeight < 30;
}

function append(room, line) {
  const shown = room.key === state.current;
  const stick = shown && atBottom();
  room.log.append(line);
  if (stick) $("log").scrollTop = $("log").scrollHeight;
}

function messageLine(frame, kind, replay) {
  const own = frame.from === state.name;
  const line = el("div", "line");
  line.classList.add(kind === "action" ? "action" : "message");
  if (replay) line.classList.add("replay");
  if (own) line.classList.add("own");
  else if (mentions(frame.text)) line.classList.add("mention");
  if (frame.seq !== undefined) line.dataset.seq = String(frame.seq);
  const time = el("span", "time", clock(frame.time));
  time.title = new Date(frame.time).toLocaleString();
  line.append(time);
  const from = el("span", "from", kind === "action" ? `* ${frame.from}` : frame.from);
  from.style.color = colourOf(frame.from);
  line.append(from, el("span", "text", frame.text));
  return line;
}

function addMessage(room, frame, kind, replay) {
  if (frame.seq !== undefined) {
    if (room.seqs.has(frame.seq)) return; // seen before a reconnection
    room.seqs.add(frame.seq);
    if (room.oldest === null || frame.seq < room.oldest) room.oldest = frame.seq;
  }
  const line = messageLine(frame, kind, replay);
  append(room, line);
  if (!replay && room.key !== state.current && frame.from !== state.name) {
    room.unread += 1;
    room.mention = room.mention || line.classList.contains("mention");
    renderRooms();
  }
}

function addEvent(room, text, className) {
  if (!room) { setStatus(text, className === "error" ? "bad" : ""); return; }
  const line = el("div", `line ${className || "event"}`);
  line.append(el("span", "time", clock(Date.now())), el("span", "text", text));
  append(room, line);
}

function currentRoom() {
  return state.rooms.get(state.current) || null;
}

function askHistory(room) {
  if (!room || room.isPrivate || room.left || room.historyPending || !room.more || !state.welcomed) return;
  room.historyPending = true;
  const frame = { type: "history", room: room.name, limit: HISTORY_PAGE };
  if (room.oldest !== null) frame.before = room.oldest;
  send(frame);
}

function historyEnded(room, more) {
  const log = $("log");
  const before = log.scrollHeight - log.scrollTop;
  const lines = room.historyBuffer.filter((f) => !room.seqs.has(f.seq));
  room.historyBuffer = [];
  room.historyPending = false;
  room.more = more;
  const first = room.earlier.nextSibling;
  for (const frame of lines) {
    room.seqs.add(frame.seq);
    if (room.oldest === null || frame.seq < room.oldest) room.oldest = frame.seq;
    room.log.insertBefore(messageLine(frame, frame.kind, true), first);
  }
  if (!more) {
    room.earlier.textContent = `start of #${room.name}`;
    room.earlier.disabled = true;
  }
  // Keep the lines the reader was looking at where they were.
  if (room.key === state.current) log.scrollTop = log.scrollHeight - before;
}

// ---- the connection ---------------------------------------------------------

function setStatus(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = kind || "";
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  setStatus("not connected: that was not sent", "bad");
  return false;
}

function hello() {
  const frame = { type: "hello", name: state.name, version: 3, client: "chat-web" };
  if (state.password) frame.password = state.password;
  send(frame);
}

function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  setStatus(`connecting to ${location.host}…`);
  document.body.dataset.state = "connecting";
  let ws;
  try {
    ws = new WebSocket(`${scheme}${location.host}/ws`);
  } catch (e) {
    setStatus(`cannot connect: ${e.message}`, "bad");
    return;
  }
  state.ws = ws;
  state.welcomed = false;
  ws.addEventListener("open", () => { if (state.ws === ws) hello(); });
  ws.addEventListener("message", (event) => {
    if (state.ws !== ws) return;
    let frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    onFrame(frame);
  });
  ws.addEventListener("close", () => { if (state.ws === ws) onClosed(); });
}

function onClosed() {
  state.ws = null;
  state.welcomed = false;
  document.body.dataset.state = "disconnected";
  for (const room of state.rooms.values()) if (!room.isPrivate) room.left = true;
  renderRooms();
  renderHeading();
  if (!state.wanted) return;
  // 1 s, 2 s, 4 s … up to 30 s, each with a random part so that a
  // restarted server is not met by every browser at once.
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** state.attempt);
  const delay = Math.round(base / 2 + Math.random() * base / 2);
  state.attempt += 1;
  setStatus(`disconnected — trying again in ${Math.ceil(delay / 1000)} s`, "bad");
  state.retryTimer = setTimeout(connect, delay);
}

function stop(reason) {
  state.wanted = false;
  clearTimeout(state.retryTimer);
  setStatus(reason, "bad");
}

function onFrame(f) {
  switch (f.type) {
    case "welcome": return onWelcome(f);
    case "room_joined": {
      const room = ensureRoom(f.room);
      room.left = false;
      room.users = new Set(f.users || []);
      room.headcount = null;
      room.topic = f.topic || "";
      if (state.switchTo === room.key) { state.switchTo = null; showRoom(room.key); }
      break;
    }
    case "join": {
      const room = ensureRoom(f.room);
      room.users.add(f.name);
      if (f.name !== state.name) addEvent(room, `${f.name} joined`);
      break;
    }
    case "leave": {
      const room = ensureRoom(f.room);
      room.users.delete(f.name);
      if (f.name === state.name) {
        room.left = true;
        addEvent(room, "you left this room");
      } else {
        addEvent(room, `${f.name} left (${f.reason})`);
      }
      break;
    }
    case "rename":
      if (f.from === state.name) state.name = f.to;
      for (const room of state.rooms.values()) {
        if (room.users.delete(f.from)) {
          room.users.add(f.to);
          addEvent(room, `${f.from} is now ${f.to}`);
        }
      }
      break;
    case "users": ensureRoom(f.room).users = new Set(f.users); break;
    case "headcount": {
      // A large room counts arrivals instead of naming each one.
      const room = ensureRoom(f.room);
      if (f.users) {
        room.users = new Set(f.users);
        room.headcount = null;
        addEvent(room, `${f.joined} joined, ${f.left} left; ${f.count} here, few enough to announce each arrival again`);
      } else {
        room.headcount = f.count;
        addEvent(room, f.joined || f.left
          ? `${f.joined} joined, ${f.left} left (${f.count} here)`
          : `${f.count} here: too many to announce each arrival (/who lists them)`);
      }
      break;
    }
    case "topic": {
      const room = ensureRoom(f.room);
      room.topic = f.topic;
      if (f.by) addEvent(room, f.topic ? `${f.by} set the topic: ${f.topic}` : `${f.by} cleared the topic`);
      break;
    }
    case "message":
    case "action":
      addMessage(ensureRoom(f.room), f, f.type, false);
      break;
    case "replay": {
      const room = ensureRoom(f.room);
      if (room.historyPending) room.historyBuffer.push(f);
      else addMessage(room, f, f.kind, true);
      break;
    }
    case "history_end": historyEnded(ensureRoom(f.room), f.more); break;
    case "private": {
      const other = f.from === state.name ? f.to : f.from;
      addMessage(ensureRoom(`@${other}`, true), f, "message", false);
      break;
    }
    case "rooms":
      for (const r of f.rooms) {
        addEvent(currentRoom(), `#${r.room} (${r.members})${r.topic ? ` — ${r.topic}` : ""}`, "notice");
      }
      break;
    case "notice": addEvent(currentRoom(), f.text, "notice"); setStatus(f.text); break;
    case "error": onError(f); break;
    case "ping": send(f.token === undefined ? { type: "pong" } : { type: "pong", token: f.token }); break;
    default: break;
  }
  renderHeading();
  renderUsers();
}

function onWelcome(f) {
  state.name = f.name;
  state.welcomed = true;
  state.hadWelcome = true;
  state.attempt = 0;
  document.body.dataset.state = "connected";
  $("login").hidden = true;
  $("app").hidden = false;
  const joined = new Set((f.rooms || [f.room]).map(keyOf));
  for (const name of f.rooms || [f.room]) ensureRoom(name).left = false;
  const lobby = ensureRoom(f.room);
  lobby.users = new Set(f.users);
  lobby.headcount = null;
  if (f.topic) lobby.topic = f.topic;
  // Back after a reconnection: into the rooms we were in before.
  for (const room of state.rooms.values()) {
    if (!room.isPrivate && !joined.has(room.key) && !room.partedByUser) {
      send({ type: "join", room: room.name });
    }
  }
  if (!state.current) showRoom(lobby.key);
  setStatus(`connected as ${f.name} to ${location.host}`, "good");
  renderRooms();
  $("compose").focus();
}

function onError(f) {
  if (!state.welcomed && state.hadWelcome && f.code === "name_taken") {
    // Our old connection still holds the name until the server sees it
    // gone: try again later.
    if (state.ws) state.ws.close();
    return;
  }
  if (!state.welcomed) {
    // Refused before a name was granted: back to the form.
    $("login").hidden = false;
    $("app").hidden = true;
    $("login-error").textContent = f.message;
    if (f.code === "bad_password") {
      $("password-row").hidden = false;
      $("password").focus();
    }
    if (FINAL.has(f.code) || f.code === "name_taken" || f.code === "invalid_name") {
      stop(f.message);
    }
    return;
  }
  if (FINAL.has(f.code)) stop(f.message);
  const room = currentRoom();
  for (const pending of state.rooms.values()) {
    if (pending.historyPending) historyEnded(pending, pending.more);
  }
  addEvent(room, f.message, "error");
  setStatus(f.message, "bad");
}

// ---- what the user does -----------------------------------------------------

function submitLogin(event) {
  event.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  state.name = name;
  state.password = $("password").value;
  $("login-error").textContent = "";
  state.wanted = true;
  if (state.ws && state.ws.readyState === WebSocket.OPEN && !state.welcomed) hello();
  else connect();
}

function compose(event) {
  event.preventDefault();
  const input = $("compose");
  const text = input.value;
  if (!text.trim()) return;
  const room = state.rooms.get(state.current);
  if (command(text, room)) input.value = "";
}

/// A line from the compose box, sent; false when it could not be.
function command(text, room) {
  const [, verb, rest] = text.match(/^\/(\S+)\s*([\s\S]*)$/) || [];
  if (!verb || text.startsWith("//")) {
    const said = text.startsWith("//") ? text.slice(1) : text;
    if (room && room.isPrivate) return send({ type: "private", to: room.name.slice(1), text: said });
    return send({ type: "message", room: room ? room.name : undefined, text: said });
  }
  switch (verb.toLowerCase()) {
    case "me": return send({ type: "action", room: room && !room.isPrivate ? room.name : undefined, text: rest });
    case "join": {
      const name = rest.trim().replace(/^#/, "");
      const existing = state.rooms.get(keyOf(name));
      if (existing) existing.partedByUser = false;
      state.switchTo = keyOf(name);
      return send({ type: "join", room: name });
    }
    case "part": case "leave":
      if (!room || room.isPrivate) return false;
      room.partedByUser = true;
      return send({ type: "part", room: room.name, reason: rest || undefined });
    case "msg": case "query": {
      const [, to, said] = rest.match(/^(\S+)\s+([\s\S]+)$/) || [];
      if (!to) { setStatus("usage: /msg NAME TEXT", "bad"); return false; }
      return send({ type: "private", to, text: said });
    }
    case "nick": return send({ type: "nick", name: rest.trim() });
    case "topic": return send({ type: "topic", room: room && room.name, text: rest || undefined });
    case "who": return send({ type: "who", room: room && room.name });
    case "rooms": case "list": return send({ type: "rooms" });
    case "quit":
      state.wanted = false;
      send({ type: "quit", reason: rest || undefined });
      setStatus("you quit — reload the page to come back");
      return true;
    default:
      setStatus(`unknown command /${verb} — try /me, /join, /part, /msg, /nick, /topic, /who, /rooms, /quit`, "bad");
      return false;
  }
}

function init() {
  $("login").addEventListener("submit", submitLogin);
  $("compose-form").addEventListener("submit", compose);
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("join-room").value.trim();
    if (name && command(`/join ${name}`, null)) $("join-room").value = "";
  });
  $("log").addEventListener("scroll", () => {
    if ($("log").scrollTop < 40) askHistory(state.rooms.get(state.current));
  });
  $("toggle-rooms").addEventListener("click", () => {
    document.body.classList.toggle("show-rooms");
    document.body.classList.remove("show-users");
  });
  $("toggle-users").addEventListener("click", () => {
    document.body.classList.toggle("show-users");
    document.body.classList.remove("show-rooms");
  });
  // The name field has the focus already (autofocus).
  document.body.dataset.state = "disconnected";
}

init();
