// What the console's live feed and the crew page's channel share: a WebSocket that reconnects
// with backoff and jitter, so a server restart does not see every client come back at once.
// A subclass implements connect(): open this.ws, call opened() once it is open and retry()
// when it is lost.

export class ReconnectingSocket {
  constructor() {
    this.delayMs = 1000;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'signed out');
  }

  // A new socket for `url`, kept as this.ws.
  open(url) {
    const ws = new WebSocket(url);
    this.ws = ws;
    return ws;
  }

  // Whether a close of `ws` should lead to a reconnect: it is still the current socket, and
  // nobody stopped the channel.
  current(ws) {
    return this.ws === ws && !this.stopped;
  }

  opened() {
    this.delayMs = 1000;
  }

  // Schedules the next connect(); returns the wait in whole seconds, for the status line.
  retry() {
    const wait = Math.min(this.delayMs, 30000) * (0.75 + Math.random() * 0.5);
    this.delayMs = Math.min(this.delayMs * 2, 30000);
    this.timer = setTimeout(() => this.connect(), wait);
    return Math.round(wait / 1000);
  }
}

// A text frame's JSON, or undefined when it is not JSON (ignored, never fatal).
export function parseFrame(m) {
  try {
    return JSON.parse(m.data);
  } catch {
    return undefined;
  }
}
