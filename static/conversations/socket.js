// The conversation's websocket: connect, reconnect with backoff, queue frames while
// down. What the frames mean is store.js's business; catching up after a reconnect
// (the resync through the JSON API) is main.js's, told by onOpen(reconnected=true).

const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 15_000;

export function socketURL(location, conversationId) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/conversations/${conversationId}/`;
}

// The wait before the next attempt: doubling, capped, with jitter so that the tabs of
// a restarted server do not all come back in the same millisecond.
export function nextWait(backoff, random = Math.random) {
  return {
    wait: backoff * (0.75 + random() / 2),
    backoff: Math.min(backoff * 2, LONGEST_WAIT_MS),
  };
}

export class ChatSocket {
  // handlers: onOpen(reconnected), onFrame(frame), onClose()
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.socket = null;
    this.connectedOnce = false;
    this.backoff = FIRST_WAIT_MS;
    this.outbox = [];
  }

  get open() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  // Frames sent while the socket is down wait here for the next connection.
  get queued() {
    return this.outbox.length;
  }

  connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.backoff = FIRST_WAIT_MS;
      const reconnected = this.connectedOnce;
      this.connectedOnce = true;
      while (this.outbox.length && this.open) socket.send(JSON.stringify(this.outbox.shift()));
      this.handlers.onOpen(reconnected);
    });
    socket.addEventListener("message", (event) => this.handlers.onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      this.socket = null;
      this.handlers.onClose();
      const { wait, backoff } = nextWait(this.backoff);
      this.backoff = backoff;
      setTimeout(() => this.connect(), wait);
    });
  }

  send(frame) {
    if (this.open) this.socket.send(JSON.stringify(frame));
    else this.outbox.push(frame);
  }
}
