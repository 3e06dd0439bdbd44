/**
 * The dashboard: one static page (HTML + CSS here, script in client-script.ts), no framework, no data
 * inside. The script polls GET /api/state every second and draws with DOM calls only (textContent,
 * createElementNS for the SVG chart), never innerHTML with data.
 */
export { DASHBOARD_JS } from './client-script.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xdbm dashboard</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>xdbm <span class="sub">backend manager</span></h1>
  <div id="conn" class="conn" data-testid="conn">connecting...</div>
</header>
<form id="token-form" hidden>
  <label>Bearer token (admin.token_file): <input id="token-input" type="password" autocomplete="off"></label>
  <button type="submit">Use token</button>
</form>
<main>
  <section class="wide">
    <h2>Firing alerts</h2>
    <ul id="alerts" data-testid="alerts" class="alerts"><li class="none">none</li></ul>
  </section>
  <section class="wide">
    <h2>Active pool <span id="active-count" class="sub"></span></h2>
    <div id="active" data-testid="active" class="cards"></div>
  </section>
  <section>
    <h2>Latency over time (avg, us)</h2>
    <div id="chart" data-testid="chart" class="chart"></div>
    <ul id="legend" class="legend"></ul>
  </section>
  <section>
    <h2>Summary</h2>
    <dl id="summary" data-testid="summary" class="summary"></dl>
  </section>
  <section class="wide">
    <h2>Candidates by node</h2>
    <div id="candidates" data-testid="candidates" class="nodes"></div>
  </section>
  <section class="wide">
    <h2>Write-ahead logs</h2>
    <ul id="wal" data-testid="wal" class="alerts"><li class="none">no logs</li></ul>
  </section>
  <section class="wide">
    <h2>Failover timeline</h2>
    <ol id="timeline" data-testid="timeline" class="timeline"><li class="none">no failovers yet</li></ol>
  </section>
</main>
<footer>Read-only view. Changes go through the admin socket: <code>xdbm failover</code>, <code>xdbm reload</code>, <code>xdbm weight</code>.</footer>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { --bg:#0f1419; --panel:#182028; --fg:#dde3ea; --muted:#8a96a3; --ok:#3fb950; --warn:#d29922;
  --bad:#f85149; --fail:#ff7b72; --unk:#6e7681; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; justify-content:space-between; align-items:center; padding:10px 18px; border-bottom:1px solid #2a333d; }
h1 { font-size:18px; margin:0; } h2 { font-size:14px; margin:0 0 8px; color:var(--muted); text-transform:uppercase; letter-spacing:.05em; }
.sub { color:var(--muted); font-weight:normal; font-size:13px; text-transform:none; }
.conn { font-size:12px; color:var(--muted); } .conn.err { color:var(--bad); }
main { display:grid; grid-template-columns: 1fr 1fr; gap:14px; padding:14px 18px; }
section { background:var(--panel); border-radius:8px; padding:12px 14px; min-width:0; }
section.wide { grid-column: 1 / -1; }
.cards { display:flex; gap:12px; flex-wrap:wrap; }
.card { flex:1 1 200px; border:1px solid #2a333d; border-left:4px solid var(--accent); border-radius:6px; padding:8px 10px; }
.card .id { font-weight:600; font-size:15px; } .card .meta { color:var(--muted); font-size:12px; }
.badge { display:inline-block; padding:0 6px; border-radius:4px; font-size:11px; font-weight:600; color:#0d1117; }
.HEALTHY { background:var(--ok); } .DEGRADED { background:var(--warn); } .UNHEALTHY { background:var(--bad); }
.FAILED { background:var(--fail); } .UNKNOWN { background:var(--unk); }
.nodes { display:grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap:10px; }
.node { border:1px solid #2a333d; border-radius:6px; padding:6px 8px; }
.node h3 { margin:0 0 4px; font-size:13px; } .node h3 .sub { font-size:11px; }
.ep { display:flex; justify-content:space-between; align-items:center; gap:6px; font-size:12px; padding:2px 0; }
.ep .badge { flex:none; white-space:nowrap; }
.ep.active { font-weight:700; } .ep.active::before { content:"\\25CF "; color:var(--accent); }
.chart svg { width:100%; height:220px; display:block; } .chart text { fill:var(--muted); font-size:10px; }
.legend { list-style:none; padding:0; margin:6px 0 0; display:flex; flex-wrap:wrap; gap:4px 12px; font-size:11px; }
.legend i { display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle; }
.summary { display:grid; grid-template-columns:auto 1fr; gap:2px 12px; margin:0; font-size:13px; }
.summary dt { color:var(--muted); } .summary dd { margin:0; }
.timeline { list-style:none; padding:0; margin:0; max-height:260px; overflow:auto; font-size:13px; }
.timeline li { padding:3px 0; border-bottom:1px solid #222b34; }
.timeline .t { color:var(--muted); font-family:ui-monospace, monospace; margin-right:8px; }
.timeline .fail { color:var(--bad); font-weight:600; }
.alerts { list-style:none; padding:0; margin:0; } .alerts li { padding:3px 0; }
.alerts .critical { color:var(--bad); font-weight:700; } .alerts .warning { color:var(--warn); font-weight:700; }
.none { color:var(--muted); }
footer { padding:8px 18px 16px; color:var(--muted); font-size:12px; }
form { padding:8px 18px; } input { background:#0d1117; color:var(--fg); border:1px solid #30363d; padding:3px 6px; }
`;
