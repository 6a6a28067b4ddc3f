// Plots Redis commands/s against declared sessions (nobody connected), before and after, as an SVG
// written by hand (no plotting tool): log-log axes, the 0-session point drawn at the left edge.
//
//   node bench/scale/plot.mjs [--out bench/results/scale-idle.svg] idle-before.json idle-after.json ...
//
// Each input is a result of bench/scale/idle.mjs; its `label` names the series.
import fs from 'node:fs';

const argv = process.argv.slice(2);
let out = 'bench/results/scale-idle.svg';
const inputs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--out') out = argv[++i];
  else inputs.push(argv[i]);
}
const series = inputs.filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
if (!series.length) {
  console.error('plot: no input');
  process.exit(1);
}

const W = 640;
const H = 400;
const M = { l: 70, r: 60, t: 40, b: 50 };
const X0 = 100; // where "0 sessions" is drawn (log axis)
const xs = series.flatMap((s) => s.rows.map((r) => Math.max(X0, r.sessions)));
const ys = series.flatMap((s) => s.rows.map((r) => Math.max(0.1, r.redisCmdPerS)));
const xMin = Math.log10(X0);
const xMax = Math.log10(Math.max(...xs, 1000));
const yMin = Math.floor(Math.log10(Math.min(...ys, 1))) - 1; // a decade below the lowest point
const yMax = Math.ceil(Math.log10(Math.max(...ys, 10)));
const px = (v) => M.l + ((Math.log10(Math.max(X0, v)) - xMin) / (xMax - xMin)) * (W - M.l - M.r);
const py = (v) => H - M.b - ((Math.log10(Math.max(0.1, v)) - yMin) / (yMax - yMin)) * (H - M.t - M.b);
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (v) => (v >= 1000 ? `${v / 1000}k` : String(Math.round(v * 10) / 10));
const colors = ['#c0392b', '#2471a3', '#27ae60', '#8e44ad'];

const parts = [];
parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Redis commands/s with nobody connected (${series[0].nodes} nodes)</text>`);
for (let e = yMin; e <= yMax; e++) {
  const y = py(10 ** e);
  parts.push(`<line x1="${M.l}" y1="${y}" x2="${W - M.r}" y2="${y}" stroke="#ddd"/>`);
  parts.push(`<text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${fmt(10 ** e)}</text>`);
}
for (const v of [X0, 1000, 10000, 100000, 1000000].filter((v) => Math.log10(v) <= xMax + 1e-9)) {
  const x = px(v);
  parts.push(`<line x1="${x}" y1="${M.t}" x2="${x}" y2="${H - M.b}" stroke="#ddd"/>`);
  parts.push(`<text x="${x}" y="${H - M.b + 16}" text-anchor="middle">${v === X0 ? '0' : fmt(v)}</text>`);
}
parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 12}" text-anchor="middle">declared sessions (log scale; 0 at the left edge)</text>`);
parts.push(`<text x="16" y="${(M.t + H - M.b) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(M.t + H - M.b) / 2})">Redis commands/s (log scale)</text>`);
parts.push(`<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#333"/>`);
series.forEach((s, k) => {
  const c = colors[k % colors.length];
  const pts = s.rows.map((r) => [px(r.sessions), py(r.redisCmdPerS)]);
  parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
  s.rows.forEach((r, i) => {
    const [x, y] = pts[i];
    parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${c}"/>`);
    parts.push(`<text x="${(x + 6).toFixed(1)}" y="${(y - 6).toFixed(1)}" fill="${c}">${esc(Math.round(r.redisCmdPerS))}</text>`);
  });
  const ly = M.t + 18 + k * 18;
  parts.push(`<line x1="${M.l + 12}" y1="${ly - 4}" x2="${M.l + 36}" y2="${ly - 4}" stroke="${c}" stroke-width="2"/>`);
  parts.push(`<text x="${M.l + 42}" y="${ly}">${esc(s.label)} (${esc(s.commit)}, ${esc(s.redis === 'cluster-3' ? 'Redis Cluster' : 'one redis-server')})</text>`);
});
parts.push('</svg>');
fs.writeFileSync(out, `${parts.join('\n')}\n`);
console.log(`plot: wrote ${out}`);
