// The page's state: every message shown, by key (the message id, or "client:<id>" for a
// user message not stored yet), and how each server frame (docs/websocket.md) changes
// it. No DOM here: main.js turns the returned effects into renders, so this module runs
// in node (tests/js/).

// Append a streamed piece whose start is at `offset` (UTF-16 units, JS string.length)
// in the full text. gap: the piece starts after what we have, so something was missed.
export function applyPiece(current, piece, offset) {
  if (!piece) return { text: current, gap: false };
  if (offset > current.length) return { text: current, gap: true };
  const overlap = current.length - offset;
  if (overlap >= piece.length) return { text: current, gap: false };
  return { text: current + piece.slice(overlap), gap: false };
}

export const pendingKey = (clientId) => `client:${clientId}`;

// CRC-32 (the zlib one) over the UTF-16LE code units of a JS string.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

// What a long reply's reply.done carries instead of its text (frames.text_check):
// the length in UTF-16 units and the CRC-32 of those units, little-endian.
export function textCheck(text) {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    crc = CRC_TABLE[(crc ^ unit) & 0xff] ^ (crc >>> 8);
    crc = CRC_TABLE[(crc ^ (unit >>> 8)) & 0xff] ^ (crc >>> 8);
  }
  return { length: text.length, crc32: (crc ^ 0xffffffff) >>> 0 };
}

function passes(text, check) {
  if (!check || text.length !== check.length) return false;
  return textCheck(text).crc32 === check.crc32;
}

// A streaming reply the page has heard nothing of for this long may have ended
// without its reply.done reaching us (a lossy fan-out): ask for its state.
export const QUIET_MS = 5000;

// What a frame did, for the page to act on.
function effects() {
  return {
    changed: [], // keys to render again
    removed: [], // keys whose message is gone
    rekeyed: null, // [oldKey, newKey]: a pending message got its id
    resync: false, // send reply.resync
    userStored: null, // a user message the server stored (names the sidebar item)
    replyStarted: false, // a reply began: the message being sent got through
    error: null, // an error frame
    order: null, // keys in the order the list shows them (the branch changed)
    branchChanged: false, // an edit, a regenerate or the pager changed the branch
    refetch: false, // the branch changed but the frame was too large to carry it
  };
}

export class MessageStore {
  constructor(clock = () => Date.now()) {
    this.messages = new Map();
    // Ids we asked a snapshot for, so a burst of deltas asks once.
    this.resyncAsked = new Set();
    // When we last heard of each streaming reply (a frame, or asking for it).
    this.heardAt = new Map();
    this.clock = clock;
  }

  get(key) {
    return this.messages.get(key);
  }

  keys() {
    return [...this.messages.keys()];
  }

  upsert(data, key = data.id) {
    this.messages.set(key, data);
    this.resyncAsked.delete(data.id);
    this.heard(data.id);
    return key;
  }

  heard(messageId) {
    if (messageId != null) this.heardAt.set(messageId, this.clock());
  }

  // The streaming replies not heard of for quietMs: a reply.resync is due for each
  // (again every quietMs while it stays quiet, in case the snapshot was lost too).
  quietReplies(quietMs = QUIET_MS) {
    const now = this.clock();
    const quiet = [];
    for (const [key, data] of this.messages) {
      if (data.role !== "assistant" || data.status !== "streaming") continue;
      if (now - (this.heardAt.get(key) ?? 0) < quietMs) continue;
      quiet.push(key);
      this.heardAt.set(key, now);
      this.resyncAsked.add(key);
    }
    return quiet;
  }

  // After the socket reconnects: every reply still streaming here may have moved
  // on (or ended) while it was down. True when a reply.resync is due.
  reconnected() {
    let due = false;
    for (const [key, data] of this.messages) {
      if (data.role !== "assistant" || data.status !== "streaming") continue;
      this.resyncAsked.add(key);
      this.heard(key);
      due = true;
    }
    return due;
  }

  remove(key) {
    this.heardAt.delete(key);
    return this.messages.delete(key);
  }

  rekey(oldKey, newKey) {
    const data = this.messages.get(oldKey);
    this.messages.delete(oldKey);
    this.messages.set(newKey, data);
  }

  streamingReply() {
    for (const data of this.messages.values()) {
      if (data.role === "assistant" && data.status === "streaming") return data;
    }
    return null;
  }

  lastAssistantKey() {
    let last = null;
    for (const [key, data] of this.messages) if (data.role === "assistant") last = key;
    return last;
  }

  // True the first time a snapshot is needed for messageId.
  askResync(messageId) {
    if (this.resyncAsked.has(messageId)) return false;
    this.resyncAsked.add(messageId);
    return true;
  }

  // Apply a reply.delta by its offsets; returns effects.
  applyDelta(frame, out = effects()) {
    const data = this.messages.get(frame.message_id);
    this.heard(frame.message_id);
    if (!data || data.status !== "streaming") {
      // Unknown: a reply we have not heard of (we joined late); ask for it.
      if (!data) out.resync = this.askResync(frame.message_id);
      return out;
    }
    const text = applyPiece(data.content, frame.text, frame.text_offset ?? 0);
    const reasoning = applyPiece(
      data.reasoning || "",
      frame.reasoning,
      frame.reasoning_offset ?? 0,
    );
    if (text.gap || reasoning.gap) {
      out.resync = this.askResync(frame.message_id);
      return out;
    }
    if (text.text === data.content && reasoning.text === (data.reasoning || "")) return out;
    this.messages.set(frame.message_id, {
      ...data,
      content: text.text,
      reasoning: reasoning.text,
    });
    out.changed.push(frame.message_id);
    return out;
  }

  // Apply one server frame; returns effects.
  receive(frame) {
    const out = effects();
    switch (frame.type) {
      case "message.created":
        return this.created(frame, out);
      case "reply.delta":
        return this.applyDelta(frame, out);
      case "reply.snapshot":
        out.changed.push(this.upsert(frame.message));
        return out;
      case "reply.done":
        if (frame.message.check) return this.checkedDone(frame.message, out);
        out.changed.push(this.upsert(frame.message));
        return out;
      case "branch.changed":
        out.branchChanged = true;
        if (!frame.messages) {
          out.refetch = true;
          return out;
        }
        return this.replaceBranch(frame.messages, out);
      case "message.deleted":
        if (this.remove(frame.message_id)) out.removed.push(frame.message_id);
        return out;
      case "error":
        out.error = frame;
        return out;
      default:
        return out;
    }
  }

  // A long reply's reply.done has a check of its text, not the text: the text is
  // what the deltas built here, if it passes. Otherwise (a delta lost, or the
  // reply not shown here at all) the reply stays as it is and a reply.resync asks
  // for it whole; should that snapshot be lost too, the quiet-reply check asks
  // again.
  checkedDone(done, out) {
    const { check, ...message } = done;
    const current = this.messages.get(done.id);
    const reasoning = current?.reasoning || "";
    if (current && passes(current.content, check.content) && passes(reasoning, check.reasoning)) {
      out.changed.push(this.upsert({ ...message, content: current.content, reasoning }));
      return out;
    }
    this.heard(done.id);
    this.resyncAsked.add(done.id);
    out.resync = true;
    return out;
  }

  created(frame, out) {
    const data = frame.message;
    const key = frame.client_id ? pendingKey(frame.client_id) : null;
    if (key && this.messages.has(key)) {
      // The stored version of the message we showed while sending.
      this.rekey(key, data.id);
      out.rekeyed = [key, data.id];
    }
    out.changed.push(this.upsert(data));
    if (data.role === "user") out.userStored = data;
    if (data.role === "assistant") out.replyStarted = true;
    return out;
  }

  // The branch on screen is now `serverMessages` (oldest first): messages not on it
  // go, the others are taken as sent, in its order. A message still being sent
  // (client key) stays at the end.
  replaceBranch(serverMessages, out = effects()) {
    const previous = this.messages;
    this.messages = new Map();
    for (const data of serverMessages) {
      const current = previous.get(data.id);
      // The socket's deltas may be ahead of the frame for a streaming reply.
      const keep = current?.status === "streaming" && data.status === "streaming";
      this.messages.set(data.id, keep ? { ...current, ...versionsOf(data) } : data);
      out.changed.push(data.id);
    }
    for (const [key, data] of previous) {
      if (typeof key === "string") this.messages.set(key, data);
      else if (!this.messages.has(key)) out.removed.push(key);
    }
    out.order = this.keys();
    return out;
  }

  // The last user message on screen (Arrow-Up edits it), or null.
  lastUserKey() {
    let last = null;
    for (const [key, data] of this.messages) if (data.role === "user" && data.id) last = key;
    return last;
  }

  // After a reconnect (or a branch too large for its frame): take the branch as the
  // API has it now.
  merge(serverMessages) {
    return this.replaceBranch(serverMessages);
  }
}

// The tree fields of a message (its versions), for a streaming copy kept as it is.
function versionsOf(data) {
  const { parent_id, sibling_ids, version, versions } = data;
  return { parent_id, sibling_ids, version, versions };
}
