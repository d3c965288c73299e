// The list's live socket (/ws/user/): every change to the user's conversations, from
// this tab or any other, arrives as conversation.changed or conversation.removed
// (docs/websocket.md). After a reconnect the list loads its first page again, for
// whatever was missed while the socket was down.
import { ChatSocket } from "../socket.js";

export function listSocketURL(location) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/user/`;
}

// handlers: changed(item), removed(id), reconnected()
export function connectLive(handlers) {
  const socket = new ChatSocket(listSocketURL(location), {
    onOpen(reconnected) {
      if (reconnected) handlers.reconnected();
    },
    onFrame(frame) {
      if (frame.type === "conversation.changed" && frame.conversation) {
        handlers.changed(frame.conversation);
      } else if (frame.type === "conversation.removed") {
        handlers.removed(frame.id);
      }
    },
    onClose() {},
  });
  socket.connect();
  return socket;
}
