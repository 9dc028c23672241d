// A live stream of PROTOCOLS.md §4: a snapshot first, then messages each
// carrying the stream's next seq. On a gap, a message that is not JSON or
// a closed socket, the stream drops everything and reconnects with
// jittered backoff: the next snapshot replaces whatever the page knew, so
// a page never shows a board patched over a hole.

const BACKOFF_MIN = 500;
const BACKOFF_MAX = 15000;

export class LiveStream {
  // path is the websocket path; handlers: snapshot(msg), message(msg),
  // state('connecting' | 'live' | 'retrying').
  constructor(path, handlers) {
    this.path = path;
    this.h = handlers;
    this.ws = null;
    this.seq = 0;
    this.live = false;
    this.backoff = BACKOFF_MIN;
    this.timer = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.state('connecting');
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  }

  state(s) {
    this.h.state?.(s);
  }

  connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}${this.path}`);
    this.ws = ws;
    this.live = false;
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        this.restart();
        return;
      }
      this.receive(msg);
    };
    ws.onclose = () => {
      if (ws === this.ws) this.restart();
    };
    ws.onerror = () => ws.close();
  }

  receive(msg) {
    if (msg.type === 'snapshot') {
      this.seq = msg.seq ?? 0;
      this.live = true;
      this.backoff = BACKOFF_MIN;
      this.state('live');
      this.h.snapshot(msg);
      return;
    }
    if (!this.live) return;
    // Anything but the next seq means a message was missed, and only a
    // fresh snapshot can repair that.
    if (msg.seq !== this.seq + 1) {
      this.restart();
      return;
    }
    this.seq = msg.seq;
    this.h.message(msg);
  }

  restart() {
    const ws = this.ws;
    this.ws = null;
    this.live = false;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    if (this.stopped) return;
    this.state('retrying');
    clearTimeout(this.timer);
    const wait = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX);
    this.timer = setTimeout(() => this.connect(), wait);
  }
}
