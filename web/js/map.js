// The map panel: a canvas with no tiles (the console works offline). It draws district outlines,
// crews and open incidents from coordinates alone, in an equirectangular projection scaled by
// cos(latitude), which is accurate enough over one city.
import { t } from './i18n.js';
import { district } from './format.js';

// District outlines come from GET /api/v1/districts: the convex hull of each district's
// registered elevators, computed by the server.
// GET /api/v1/crews gives position_age_s but not the server's max_position_age; 300 s is the
// shipped default ([geo] max_position_age_s).
const staleAfterS = 300;
// Central Chongqing, for an empty map.
const defaultBounds = { minLat: 29.38, maxLat: 29.95, minLon: 106.33, maxLon: 106.75 };

// What the map shows a crew as, from /api/v1/crews (duty and jobs are the dispatcher's, the age
// the position's): on a job first, whatever its phone says; then off duty; then stale.
export function crewState(crew) {
  if (crew.busy) return 'busy';
  if (!crew.on_duty) return 'off';
  if (!crew.position || (crew.position_age_s || 0) > staleAfterS) return 'stale';
  return 'free';
}
const crewColour = { busy: '#2680c2', free: '#3ebd93', stale: '#bcccdc' };

export class MapPanel {
  constructor(canvas, { onSelect, legend }) {
    this.canvas = canvas;
    this.legend = legend;
    this.onSelect = onSelect;
    this.incidents = [];
    this.crews = [];
    this.selected = null;
    this.districts = [];
    this.hits = [];
    canvas.addEventListener('click', (e) => this.click(e));
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setDistricts(districts) {
    this.districts = districts || [];
    this.draw();
  }

  setIncidents(list) {
    this.incidents = list;
    this.draw();
  }

  setCrews(crews) {
    this.crews = crews || [];
    // The legend counts every crew, placed or not: how many the dispatcher could send now.
    const counts = { free: 0, busy: 0, stale: 0, off: 0 };
    for (const crew of this.crews) counts[crewState(crew)] += 1;
    for (const [state, n] of Object.entries(counts)) {
      const tag = this.legend?.querySelector(`[data-count=${state}]`);
      if (tag) tag.textContent = String(n);
    }
    this.draw();
  }

  select(id) {
    this.selected = id;
    this.draw();
  }

  bounds() {
    const pts = [...this.districts.flatMap((d) => d.outline || []), ...this.incidents.map((i) => i.elevator?.location).filter(Boolean),
      ...this.crews.map((c) => c.position).filter(Boolean)];
    if (!pts.length) return defaultBounds;
    const b = { minLat: Infinity, maxLat: -Infinity, minLon: Infinity, maxLon: -Infinity };
    for (const p of pts) {
      b.minLat = Math.min(b.minLat, p.lat); b.maxLat = Math.max(b.maxLat, p.lat);
      b.minLon = Math.min(b.minLon, p.lon); b.maxLon = Math.max(b.maxLon, p.lon);
    }
    // Keep at least ~2 km of view so a single point is not blown up to the whole panel.
    const padLat = Math.max((b.maxLat - b.minLat) * 0.08, 0.01);
    const padLon = Math.max((b.maxLon - b.minLon) * 0.08, 0.01);
    return { minLat: b.minLat - padLat, maxLat: b.maxLat + padLat, minLon: b.minLon - padLon, maxLon: b.maxLon + padLon };
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (!w || !h) return;
    c.width = w * ratio;
    c.height = h * ratio;
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = '#f4f6f8';
    g.fillRect(0, 0, w, h);

    const b = this.bounds();
    const kx = Math.cos(((b.minLat + b.maxLat) / 2) * Math.PI / 180);
    const spanX = (b.maxLon - b.minLon) * kx;
    const spanY = b.maxLat - b.minLat;
    const scale = Math.min(w / spanX, h / spanY);
    const ox = (w - spanX * scale) / 2;
    const oy = (h - spanY * scale) / 2;
    const xy = (p) => [ox + (p.lon - b.minLon) * kx * scale, oy + (b.maxLat - p.lat) * scale];
    this.hits = [];

    // Districts: the outline the server computed from the registry.
    g.font = '12px sans-serif';
    for (const d of this.districts) {
      const hull = (d.outline || []).map(xy);
      if (!hull.length) continue;
      g.strokeStyle = '#9aa5b1';
      g.fillStyle = 'rgba(154,165,177,0.12)';
      g.lineWidth = 1;
      g.beginPath();
      if (hull.length >= 3) {
        hull.forEach(([x, y], k) => (k ? g.lineTo(x, y) : g.moveTo(x, y)));
        g.closePath();
      } else {
        // One or two elevators: a box around them stands for the district.
        const xs = hull.map((p) => p[0]);
        const ys = hull.map((p) => p[1]);
        g.rect(Math.min(...xs) - 14, Math.min(...ys) - 14, Math.max(...xs) - Math.min(...xs) + 28, Math.max(...ys) - Math.min(...ys) + 28);
      }
      g.fill();
      g.stroke();
      const cx = hull.reduce((s, p) => s + p[0], 0) / hull.length;
      const cy = hull.reduce((s, p) => s + p[1], 0) / hull.length;
      g.fillStyle = '#52606d';
      g.textAlign = 'center';
      g.fillText(district(d.code), cx, cy - 18);
    }

    // Crews: small squares; colour by state, off duty as an outline.
    for (const crew of this.crews) {
      if (!crew.position) continue;
      const [x, y] = xy(crew.position);
      const state = crewState(crew);
      if (state === 'off') {
        g.strokeStyle = '#829ab1';
        g.lineWidth = 1;
        g.strokeRect(x - 3, y - 3, 6, 6);
      } else {
        g.fillStyle = crewColour[state];
        g.fillRect(x - 3, y - 3, 6, 6);
      }
    }

    // Incidents on top: circles coloured like their board clock.
    const now = Date.now();
    for (const i of this.incidents) {
      const loc = i.elevator?.location;
      if (!loc) continue;
      const [x, y] = xy(loc);
      const left = Number(i.target_at_ms || 0) - now;
      g.fillStyle = i.arrived_at_ms ? '#829ab1' : left < 0 ? '#d64545' : left < 600000 ? '#f0b429' : '#e12d39';
      g.beginPath();
      g.arc(x, y, String(i.id) === this.selected ? 9 : 7, 0, Math.PI * 2);
      g.fill();
      g.strokeStyle = '#102a43';
      g.lineWidth = String(i.id) === this.selected ? 3 : 1;
      g.stroke();
      g.fillStyle = '#102a43';
      g.textAlign = 'left';
      g.fillText(`#${i.id} ${i.elevator?.rescue_code || ''}`, x + 10, y + 4);
      this.hits.push({ x, y, id: String(i.id) });
    }

    this.canvas.setAttribute('aria-label', `${t('map.title')}: ${this.incidents.length} / ${this.crews.length}`);
  }

  click(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const hit = this.hits.find((h) => (h.x - x) ** 2 + (h.y - y) ** 2 < 144);
    if (hit) this.onSelect(hit.id);
  }
}
