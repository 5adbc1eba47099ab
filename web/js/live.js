// The live feed: one WebSocket, reconnected with backoff. Each (re)connect starts with a fresh
// snapshot, so the board is cleared when the socket opens and rebuilt from what follows.

export class LiveFeed {
  constructor(url, { onReset, onUpdate, onStatus }) {
    this.url = url;
    this.onReset = onReset;
    this.onUpdate = onUpdate;
    this.onStatus = onStatus;
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

  connect() {
    this.onStatus('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.delayMs = 1000;
      this.onReset();
      this.onStatus('connected');
    };
    ws.onmessage = (m) => {
      let update;
      try {
        update = JSON.parse(m.data);
      } catch {
        return;
      }
      this.onUpdate(update);
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      // Backoff with jitter: a server restart should not see every console reconnect at once.
      const wait = Math.min(this.delayMs, 30000) * (0.75 + Math.random() * 0.5);
      this.delayMs = Math.min(this.delayMs * 2, 30000);
      this.onStatus('lost', Math.round(wait / 1000));
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }
}
