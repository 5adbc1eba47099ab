// The crew WebSocket (docs/crew-channel.md): receipts every message, drops duplicates by seq
// (the server resends everything unreceipted on each connect), reconnects with backoff.
import { ReconnectingSocket, parseFrame } from '/js/socket.js';

export class CrewChannel extends ReconnectingSocket {
  constructor({ crewId, token, onMessage, onStatus }) {
    super();
    this.crewId = crewId;
    this.token = token;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.seen = new Set();
    this.everOpened = false;
    this.openedAt = 0;
    // Sent while the socket was down: locations are only worth the latest one, actions all.
    this.pending = [];
  }

  url() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const q = new URLSearchParams({ crew: this.crewId, token: this.token });
    return `${scheme}://${location.host}/ws/crew?${q}`;
  }

  connected() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (this.connected()) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    if (message.location) this.pending = this.pending.filter((m) => !m.location);
    this.pending.push(message);
    return false;
  }

  connect() {
    this.onStatus('connecting');
    const ws = this.open(this.url());
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.everOpened = true;
      this.opened();
      this.openedAt = Date.now();
      this.onStatus('online');
      const queued = this.pending;
      this.pending = [];
      for (const m of queued) ws.send(JSON.stringify(m));
    };
    ws.onmessage = (m) => {
      const msg = parseFrame(m);
      if (msg === undefined) return;
      const seq = String(msg.seq ?? '');
      // Receipt first and always, duplicates included: an unreceipted message keeps coming back.
      if (seq) ws.send(JSON.stringify({ receipt: { seq } }));
      if (seq && this.seen.has(seq)) return;
      if (seq) this.seen.add(seq);
      this.onMessage(msg, { openedAt: this.openedAt });
    };
    ws.onclose = async (e) => {
      if (!this.current(ws)) return;
      if (e.code === 1000 && /replaced/.test(e.reason)) {
        // Another phone signed in as this crew: fighting over the connection helps nobody.
        this.stopped = true;
        this.onStatus('replaced');
        return;
      }
      // The server answers a bad token with HTTP 401 before the upgrade, which a browser only
      // reports as a failed socket. If the first attempt never opened but the server is up,
      // the credentials were refused.
      if (!opened && !this.everOpened && (await serverUp())) {
        this.stopped = true;
        this.onStatus('refused');
        return;
      }
      this.onStatus('offline', this.retry());
    };
  }
}

async function serverUp() {
  try {
    return (await fetch('/healthz', { cache: 'no-store' })).ok;
  } catch {
    return false;
  }
}
