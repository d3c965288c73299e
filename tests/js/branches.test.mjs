// Branching on the page: the version pager's label and targets, and what
// branch.changed (docs/websocket.md) does to the messages shown.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { versionPager } from "../../static/conversations/render.js";
import { MessageStore } from "../../static/conversations/store.js";

const message = (id, fields = {}) => ({ id, role: "user", content: `m${id}`, status: "complete", ...fields });

describe("versionPager", () => {
  test("a turn with one version has no pager", () => {
    assert.equal(versionPager(message(1, { sibling_ids: [1] })), null);
    assert.equal(versionPager(message(1)), null);
    assert.equal(versionPager(message(null, { sibling_ids: [1, 2] })), null);
  });

  test("the middle version pages both ways, the ends one way", () => {
    assert.deepEqual(versionPager(message(5, { sibling_ids: [2, 5, 9] })), { label: "2 / 3", prev: 2, next: 9 });
    assert.deepEqual(versionPager(message(2, { sibling_ids: [2, 5, 9] })), { label: "1 / 3", prev: null, next: 5 });
    assert.deepEqual(versionPager(message(9, { sibling_ids: [2, 5, 9] })), { label: "3 / 3", prev: 5, next: null });
  });
});

describe("branch.changed", () => {
  test("shows the new branch in its order and drops the old one's messages", () => {
    const store = new MessageStore();
    for (const id of [1, 2, 3, 4]) store.upsert(message(id));

    const out = store.receive({
      type: "branch.changed",
      message_ids: [1, 2, 7, 8],
      messages: [message(1), message(2), message(7, { sibling_ids: [3, 7] }), message(8, { role: "assistant" })],
    });

    assert.deepEqual(out.removed, [3, 4]);
    assert.deepEqual(out.order, [1, 2, 7, 8]);
    assert.equal(out.branchChanged, true);
    assert.deepEqual(store.keys(), [1, 2, 7, 8]);
    assert.equal(store.lastUserKey(), 7);
    assert.equal(store.lastAssistantKey(), 8);
  });

  test("a branch too large for its frame is read from the API", () => {
    const store = new MessageStore();
    store.upsert(message(1));
    const out = store.receive({ type: "branch.changed", message_ids: [1], messages: null });
    assert.equal(out.refetch, true);
    assert.deepEqual(store.keys(), [1]);
  });
});
