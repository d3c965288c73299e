// The message store: offsets of reply.delta (docs/websocket.md) and what frames do.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  MessageStore,
  QUIET_MS,
  applyPiece,
  pendingKey,
  textCheck,
} from "../../static/conversations/store.js";

const reply = (fields = {}) => ({
  id: 7,
  role: "assistant",
  content: "",
  reasoning: "",
  status: "streaming",
  ...fields,
});
const delta = (fields) => ({ type: "reply.delta", message_id: 7, ...fields });
const clockAt = (start = 1_000_000) => {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
};

describe("applyPiece", () => {
  test("appends a piece that starts where the text ends", () => {
    assert.deepEqual(applyPiece("Hello", ", world", 5), { text: "Hello, world", gap: false });
  });

  test("skips the part of a piece already shown", () => {
    assert.deepEqual(applyPiece("Hello, wo", "world!", 7), { text: "Hello, world!", gap: false });
  });

  test("ignores a piece shown entirely", () => {
    assert.deepEqual(applyPiece("Hello, world", "Hello", 0), { text: "Hello, world", gap: false });
  });

  test("reports a gap when the piece starts after the text", () => {
    assert.deepEqual(applyPiece("Hel", "world", 7), { text: "Hel", gap: true });
  });

  test("counts offsets in UTF-16 units, as the server does", () => {
    // "你好😀" is 4 UTF-16 units: the emoji is a surrogate pair.
    const current = "你好😀";
    assert.equal(current.length, 4);
    assert.deepEqual(applyPiece(current, "😀!", 2), { text: "你好😀!", gap: false });
    assert.deepEqual(applyPiece(current, "世界", 4), { text: "你好😀世界", gap: false });
  });

  test("an empty piece changes nothing", () => {
    assert.deepEqual(applyPiece("abc", "", 10), { text: "abc", gap: false });
  });
});

describe("textCheck", () => {
  test("is the server's check (frames.text_check) of the same string", () => {
    // Computed with conversations.frames.text_check.
    assert.deepEqual(textCheck(""), { length: 0, crc32: 0 });
    assert.deepEqual(textCheck("Hello"), { length: 5, crc32: 441413903 });
    assert.deepEqual(textCheck("你好😀"), { length: 4, crc32: 1703244480 });
    assert.deepEqual(textCheck("\ud800x"), { length: 2, crc32: 1161316458 });
    assert.deepEqual(textCheck("a".repeat(600)), { length: 600, crc32: 2290332984 });
  });
});

// A long reply's reply.done: its final fields and a check of the text, no text.
const checkedDone = (text, fields = {}) => ({
  type: "reply.done",
  message: {
    id: 7,
    role: "assistant",
    status: "complete",
    finish_reason: "stop",
    ...fields,
    check: { content: textCheck(text), reasoning: textCheck("") },
  },
});

describe("reply.done with a check", () => {
  const long = "All of it, and more. ".repeat(30);

  test("keeps the text the deltas built when it passes, and ends the reply", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply() });
    store.receive(delta({ text: long.slice(0, 100), text_offset: 0 }));
    store.receive(delta({ text: long.slice(100), text_offset: 100 }));
    const out = store.receive(checkedDone(long));

    assert.equal(out.resync, false);
    assert.deepEqual(out.changed, [7]);
    assert.equal(store.get(7).content, long);
    assert.equal(store.get(7).status, "complete");
    assert.equal(store.get(7).finish_reason, "stop");
    assert.equal("check" in store.get(7), false);
  });

  test("a text that fails it (the last delta lost) is asked for whole", () => {
    const clock = clockAt();
    const store = new MessageStore(clock);
    store.receive({ type: "message.created", message: reply() });
    store.receive(delta({ text: long.slice(0, 100), text_offset: 0 }));
    const out = store.receive(checkedDone(long));

    assert.equal(out.resync, true);
    // Still streaming here, with what it has: not shown as ended with a wrong text.
    assert.equal(store.get(7).status, "streaming");
    assert.equal(store.get(7).content, long.slice(0, 100));
    // The snapshot lost too: the quiet-reply check asks again.
    clock.now += QUIET_MS;
    assert.deepEqual(store.quietReplies(), [7]);
    store.receive({ type: "reply.snapshot", message: reply({ content: long, status: "complete" }) });
    assert.equal(store.get(7).content, long);
    assert.equal(store.streamingReply(), null);
  });

  test("a text of the same length that differs fails it too", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply() });
    const wrong = "X" + long.slice(1);
    store.receive(delta({ text: wrong, text_offset: 0 }));
    assert.equal(store.receive(checkedDone(long)).resync, true);
    assert.equal(store.get(7).status, "streaming");
  });

  test("even after a gap was already asked about, it asks again", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply() });
    store.receive(delta({ text: long.slice(0, 10), text_offset: 0 }));
    assert.equal(store.receive(delta({ text: long.slice(50), text_offset: 50 })).resync, true);
    assert.equal(store.receive(checkedDone(long)).resync, true);
  });

  test("a reply this page never showed is asked for", () => {
    const store = new MessageStore();
    const out = store.receive(checkedDone(long));
    assert.equal(out.resync, true);
    assert.equal(store.get(7), undefined);
  });
});

describe("MessageStore.receive", () => {
  test("deltas build the reply's text and reasoning by offset", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply(), client_id: null });
    store.receive(delta({ reasoning: "Think", reasoning_offset: 0, text: "", text_offset: 0 }));
    store.receive(delta({ reasoning: "ing.", reasoning_offset: 5, text: "Hi", text_offset: 0 }));
    // A repeat (a second process forwarding the same frame) changes nothing.
    const repeat = store.receive(delta({ text: "Hi", text_offset: 0 }));
    store.receive(delta({ text: " there", text_offset: 2 }));

    assert.deepEqual(repeat.changed, []);
    assert.equal(store.get(7).content, "Hi there");
    assert.equal(store.get(7).reasoning, "Thinking.");
  });

  test("a gap asks for one snapshot, which replaces the text", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply({ content: "Hel" }) });
    const first = store.receive(delta({ text: "world", text_offset: 7 }));
    const second = store.receive(delta({ text: "d!", text_offset: 11 }));
    const snapshot = store.receive({
      type: "reply.snapshot",
      message: reply({ content: "Hello, world" }),
    });
    const after = store.receive(delta({ text: "d!", text_offset: 11 }));

    assert.equal(first.resync, true);
    assert.equal(second.resync, false);
    assert.deepEqual(snapshot.changed, [7]);
    assert.equal(store.get(7).content, "Hello, world!");
    assert.deepEqual(after.changed, [7]);
  });

  test("a delta for a reply it has never seen asks for a snapshot", () => {
    const store = new MessageStore();
    assert.equal(store.receive(delta({ text: "x", text_offset: 40 })).resync, true);
  });

  test("a delta after the reply ended is ignored", () => {
    const store = new MessageStore();
    store.receive({ type: "reply.done", message: reply({ content: "Done.", status: "complete" }) });
    const effects = store.receive(delta({ text: " more", text_offset: 5 }));

    assert.equal(store.get(7).content, "Done.");
    assert.deepEqual(effects.changed, []);
    assert.equal(effects.resync, false);
  });

  test("the stored user message takes the place of the one being sent", () => {
    const store = new MessageStore();
    const key = pendingKey("abc");
    store.upsert({ id: null, role: "user", content: "Hi", status: "sending" }, key);
    const effects = store.receive({
      type: "message.created",
      client_id: "abc",
      message: { id: 3, role: "user", content: "Hi", status: "complete" },
    });

    assert.deepEqual(effects.rekeyed, [key, 3]);
    assert.equal(effects.userStored.id, 3);
    assert.deepEqual(store.keys(), [3]);
    assert.equal(store.get(3).status, "complete");
  });

  test("a reply starting says the message got through", () => {
    const store = new MessageStore();
    const effects = store.receive({ type: "message.created", message: reply(), client_id: null });
    assert.equal(effects.replyStarted, true);
    assert.equal(store.streamingReply().id, 7);
  });

  test("message.deleted removes the reply; error frames are passed on", () => {
    const store = new MessageStore();
    store.receive({ type: "reply.done", message: reply({ status: "complete" }) });
    assert.deepEqual(store.receive({ type: "message.deleted", message_id: 7 }).removed, [7]);
    assert.equal(store.lastAssistantKey(), null);
    const error = { type: "error", code: "busy", message: "Busy." };
    assert.equal(store.receive(error).error, error);
  });
});

describe("MessageStore.merge (after a reconnect)", () => {
  test("takes the server's messages, drops deleted ones, keeps the streaming reply", () => {
    const store = new MessageStore();
    store.upsert({ id: 1, role: "user", content: "Q", status: "complete" });
    store.upsert({ id: 2, role: "assistant", content: "old", status: "complete" });
    store.upsert(reply({ content: "live text" }));
    store.upsert({ id: null, role: "user", content: "sending", status: "sending" }, "client:x");

    const effects = store.merge([
      { id: 1, role: "user", content: "Q", status: "complete" },
      reply({ content: "live" }),
    ]);

    assert.deepEqual(effects.removed, [2]);
    assert.equal(store.get(7).content, "live text");
    assert.deepEqual(store.keys().sort(), [1, 7, "client:x"].sort());
  });
});

// A page that misses frames (a lossy fan-out across processes) repairs itself.
describe("MessageStore repair of missed frames", () => {
  test("a delta past what the page has asks once, then the snapshot repairs it", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply() });
    store.receive(delta({ text: "Hello", text_offset: 0 }));
    // ", wor" (offset 5) was lost.
    const gap = store.receive(delta({ text: "ld", text_offset: 10 }));
    const again = store.receive(delta({ text: "!", text_offset: 12 }));
    store.receive({ type: "reply.snapshot", message: reply({ content: "Hello, world!" }) });
    const next = store.receive(delta({ text: " Bye.", text_offset: 13 }));

    assert.equal(gap.resync, true);
    assert.equal(again.resync, false);
    assert.deepEqual(gap.changed, []);
    assert.equal(store.get(7).content, "Hello, world! Bye.");
    assert.deepEqual(next.changed, [7]);
  });

  test("a gap in the reasoning asks too", () => {
    const store = new MessageStore();
    store.receive({ type: "message.created", message: reply({ reasoning: "Hm" }) });
    assert.equal(store.receive(delta({ reasoning: "ok", reasoning_offset: 9 })).resync, true);
    assert.equal(store.get(7).reasoning, "Hm");
  });

  test("a streaming reply heard of within the quiet time is left alone", () => {
    const clock = clockAt();
    const store = new MessageStore(clock);
    store.receive({ type: "message.created", message: reply() });
    clock.now += QUIET_MS - 1000;
    store.receive(delta({ text: "Hi", text_offset: 0 }));
    clock.now += QUIET_MS - 1;

    assert.deepEqual(store.quietReplies(), []);
  });

  test("a missed reply.done: the quiet reply is asked for, then ends by its snapshot", () => {
    const clock = clockAt();
    const store = new MessageStore(clock);
    store.receive({ type: "message.created", message: reply() });
    store.receive(delta({ text: "All of it.", text_offset: 0 }));
    // reply.done never arrives.
    clock.now += QUIET_MS;
    const due = store.quietReplies();
    const soonAfter = store.quietReplies();
    store.receive({
      type: "reply.snapshot",
      message: reply({ content: "All of it.", status: "complete" }),
    });
    clock.now += 10 * QUIET_MS;

    assert.deepEqual(due, [7]);
    assert.deepEqual(soonAfter, []);
    assert.equal(store.get(7).status, "complete");
    assert.equal(store.streamingReply(), null);
    assert.deepEqual(store.quietReplies(), []);
  });

  test("a lost snapshot is asked for again after another quiet time", () => {
    const clock = clockAt();
    const store = new MessageStore(clock);
    store.receive({ type: "message.created", message: reply() });
    clock.now += QUIET_MS;
    assert.deepEqual(store.quietReplies(), [7]);
    clock.now += QUIET_MS / 2;
    assert.deepEqual(store.quietReplies(), []);
    clock.now += QUIET_MS / 2;
    assert.deepEqual(store.quietReplies(), [7]);
  });

  test("ended replies and user messages never count as quiet", () => {
    const clock = clockAt();
    const store = new MessageStore(clock);
    store.upsert({ id: 1, role: "user", content: "Q", status: "complete" });
    store.upsert(reply({ id: 2, status: "complete" }));
    clock.now += 100 * QUIET_MS;
    assert.deepEqual(store.quietReplies(), []);
  });

  test("on reconnect a resync is due while a reply streams, not otherwise", () => {
    const store = new MessageStore();
    store.upsert(reply({ id: 2, status: "complete" }));
    assert.equal(store.reconnected(), false);
    store.receive({ type: "message.created", message: reply() });
    assert.equal(store.reconnected(), true);
    // Asked already: a gap right after does not ask a second time.
    assert.equal(store.receive(delta({ text: "x", text_offset: 40 })).resync, false);
  });
});
