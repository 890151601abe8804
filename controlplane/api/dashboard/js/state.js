// What the dashboard knows about shoald: the last answers of /v1/status, /v1/services and
// /v1/counters, polled once a second, and a few minutes of per-service and per-backend rate
// history kept here in the browser (shoald keeps only the current rates). The history is
// gathered whichever page is shown, so a chart has data as soon as it is opened.

import { get } from './api.js';

export const kPollMs = 1000;
export const kHistorySeconds = 300;

export class State extends EventTarget {
  constructor() {
    super();
    this.status = null;
    this.services = null;
    this.counters = null;
    this.lastOk = null;     // Date.now() of the last complete poll
    this.lastError = null;  // message of the last failed poll, cleared by a good one
    this.history = new Map();  // "web" or "web/rs1" -> [{t, pps, bps, fps}]
    this.timer_ = null;
    this.busy_ = false;
  }

  start() {
    if (this.timer_ !== null) return;
    this.poll();
    this.timer_ = setInterval(() => this.poll(), kPollMs);
  }

  stop() {
    clearInterval(this.timer_);
    this.timer_ = null;
  }

  // Also called right after an action, so that its effect shows without waiting a tick.
  async poll() {
    if (this.busy_) return;  // a slow answer must not pile requests up behind it
    this.busy_ = true;
    try {
      const [status, services, counters] = await Promise.all([
        get('/v1/status'), get('/v1/services'), get('/v1/counters'),
      ]);
      this.status = status;
      this.services = services.services ?? [];
      this.counters = counters;
      this.lastOk = Date.now();
      this.lastError = null;
      this.record_(this.lastOk);
    } catch (e) {
      if (e.status === 401) this.stop();
      this.lastError = e.message;
    } finally {
      this.busy_ = false;
      this.dispatchEvent(new Event('update'));
    }
  }

  record_(t) {
    const keep = t - kHistorySeconds * 1000;
    const push = (key, sample) => {
      let list = this.history.get(key);
      if (!list) this.history.set(key, (list = []));
      list.push(sample);
      while (list.length && list[0].t < keep) list.shift();
    };
    for (const svc of this.services) {
      const total = { t, pps: 0, bps: 0, fps: 0 };
      for (const b of svc.backends) {
        const tr = b.traffic ?? {};
        const s = { t, pps: tr.packets_per_second ?? 0, bps: tr.bytes_per_second ?? 0,
                    fps: tr.new_flows_per_second ?? 0 };
        total.pps += s.pps;
        total.bps += s.bps;
        total.fps += s.fps;
        push(`${svc.name}/${b.name}`, s);
      }
      push(svc.name, total);
    }
  }

  // [[t, value]] of one field ('pps', 'bps' or 'fps') for a history key.
  series(key, field) {
    return (this.history.get(key) ?? []).map((s) => [s.t, s[field]]);
  }
}
