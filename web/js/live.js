// The live feed: one WebSocket, reconnected with backoff. Each (re)connect starts with a fresh
// snapshot, so the board is cleared when the socket opens and rebuilt from what follows.
import { ReconnectingSocket, parseFrame } from './socket.js';

export class LiveFeed extends ReconnectingSocket {
  constructor(url, { onReset, onUpdate, onStatus }) {
    super();
    this.url = url;
    this.onReset = onReset;
    this.onUpdate = onUpdate;
    this.onStatus = onStatus;
  }

  connect() {
    this.onStatus('connecting');
    const ws = this.open(this.url);
    ws.onopen = () => {
      this.opened();
      this.onReset();
      this.onStatus('connected');
    };
    ws.onmessage = (m) => {
      const update = parseFrame(m);
      if (update !== undefined) this.onUpdate(update);
    };
    ws.onclose = () => {
      if (!this.current(ws)) return;
      this.onStatus('lost', this.retry());
    };
  }
}
