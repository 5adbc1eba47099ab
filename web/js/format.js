// Turning the API's JSON (int64 as strings, enums as names, defaults left out) into display text.
import { t, has } from './i18n.js';

// int64 fields arrive as strings; a missing field means 0.
export function ms(value) {
  return value === undefined || value === null ? 0 : Number(value);
}

export function label(prefix, name) {
  if (!name) return '';
  const key = `${prefix}.${name}`;
  return has(key) ? t(key) : name;
}

export function district(code) {
  if (!code) return '';
  const key = `district.${code}`;
  return has(key) ? t(key) : code;
}

const pad = (n) => String(n).padStart(2, '0');

export function clockTime(atMs) {
  if (!atMs) return '';
  const d = new Date(atMs);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function dateTime(atMs) {
  if (!atMs) return '';
  const d = new Date(atMs);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockTime(atMs)}`;
}

// mm:ss under an hour, h:mm:ss above: operators read the clock at a glance.
export function duration(totalMs) {
  const s = Math.max(0, Math.floor(Math.abs(totalMs) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function minutes(seconds) {
  return t('unit.min', { n: Math.round((seconds || 0) / 60) });
}

export function distance(metres) {
  if (metres === undefined || metres === null) return '';
  return metres >= 1000 ? t('unit.km', { n: (metres / 1000).toFixed(1) }) : t('unit.m', { n: Math.round(metres) });
}

// Great-circle distance in metres; enough for "how far is the job" on a phone.
export function haversine(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

// Small DOM helper: el('td', {class: 'x'}, 'text', child...). Text goes through textContent, so
// addresses and notes typed by people are never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
