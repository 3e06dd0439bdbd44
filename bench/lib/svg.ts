/** Minimal SVG charts for benchmark results (no dependencies): grouped bars and a time series. */

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export interface Bar {
  label: string;
  /** One value per series, same order as `series`. */
  values: number[];
}

export function barChart(title: string, unit: string, series: string[], bars: Bar[]): string {
  const width = 760;
  const height = 360;
  const left = 70;
  const bottom = 70;
  const top = 40;
  const plotH = height - top - bottom;
  const max = Math.max(1e-9, ...bars.flatMap((b) => b.values.filter(Number.isFinite)));
  const groupW = (width - left - 20) / Math.max(1, bars.length);
  const barW = Math.max(4, (groupW - 16) / Math.max(1, series.length));
  const colors = ['#2b6cb0', '#90cdf4', '#dd6b20', '#fbd38d', '#38a169', '#9ae6b4', '#805ad5', '#d6bcfa'];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" stroke="#333"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    const y = top + plotH - (plotH * t) / 4;
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${v.toPrecision(3)}</text>`);
    parts.push(`<line x1="${left}" y1="${y}" x2="${width - 10}" y2="${y}" stroke="#ddd"/>`);
  }
  parts.push(`<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`);
  bars.forEach((b, i) => {
    const gx = left + 8 + i * groupW;
    b.values.forEach((v, j) => {
      if (!Number.isFinite(v)) return;
      const h = (plotH * v) / max;
      parts.push(`<rect x="${gx + j * barW}" y="${top + plotH - h}" width="${barW - 2}" height="${h}" fill="${colors[j % colors.length]}"><title>${esc(`${b.label} ${series[j]}: ${v}`)}</title></rect>`);
    });
    parts.push(`<text x="${gx + groupW / 2 - 8}" y="${top + plotH + 16}" text-anchor="middle">${esc(b.label)}</text>`);
  });
  series.forEach((s, j) => {
    // legend: four entries a row, two rows at most below the axis labels
    const lx = left + (j % 4) * 165;
    const ly = height - 34 + Math.floor(j / 4) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[j % colors.length]}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export interface SeriesPoint {
  tMs: number;
  value: number;
}

/** A time series (e.g. append latency) with vertical markers (e.g. fault injected, new active set). */
export function timeSeriesChart(title: string, unit: string, points: SeriesPoint[], markers: { tMs: number; label: string }[]): string {
  const width = 760;
  const height = 340;
  const left = 70;
  const top = 40;
  const plotW = width - left - 20;
  const plotH = height - top - 60;
  const t0 = Math.min(...points.map((p) => p.tMs), ...markers.map((m) => m.tMs));
  const t1 = Math.max(...points.map((p) => p.tMs), ...markers.map((m) => m.tMs), t0 + 1);
  const vmax = Math.max(1e-9, ...points.map((p) => p.value));
  const x = (t: number): number => left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v: number): number => top + plotH - (v / vmax) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${vmax.toPrecision(3)}</text>`,
    `<text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>`,
    `<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`,
    `<text x="${left + plotW / 2}" y="${height - 20}" text-anchor="middle">time (ms)</text>`,
  ];
  for (const p of points) parts.push(`<circle cx="${x(p.tMs).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="1.5" fill="#2b6cb0"/>`);
  for (let t = 0; t <= 4; t++) {
    const tv = t0 + ((t1 - t0) * t) / 4;
    parts.push(`<text x="${x(tv).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${tv.toFixed(0)}</text>`);
  }
  markers.forEach((m, i) => {
    parts.push(`<line x1="${x(m.tMs).toFixed(1)}" y1="${top}" x2="${x(m.tMs).toFixed(1)}" y2="${top + plotH}" stroke="#e53e3e" stroke-dasharray="4 3"/>`);
    // staggered labels, so close markers stay readable
    parts.push(`<text x="${(x(m.tMs) + 3).toFixed(1)}" y="${top + 12 + i * 14}" fill="#e53e3e">${esc(`${m.label} (${m.tMs.toFixed(1)} ms)`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
