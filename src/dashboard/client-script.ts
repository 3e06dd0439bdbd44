/**
 * The dashboard's browser script, served as /dashboard.js. Plain JS (no framework, no build step),
 * written without template literals so it can live in this string. Polls /api/state every second.
 * With a token file on the daemon, the token comes from `#token=...` or the form, kept in sessionStorage.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var POLL_MS = 1000;
  var COLORS = ['#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7', '#79c0ff', '#ffa657', '#7ee787', '#ff7b72', '#e3b341', '#56d4dd', '#bc8cff'];
  var SVGNS = 'http://www.w3.org/2000/svg';
  var colorOf = {};
  var nextColor = 0;
  var token = null;

  // A token in the fragment (#token=...) is taken, kept for this tab only, and removed from the URL.
  function tokenFromHash() {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash || '');
    if (!m) return false;
    token = decodeURIComponent(m[1]);
    try { sessionStorage.setItem('xdbm-token', token); } catch (e) { /* private mode */ }
    history.replaceState(null, '', location.pathname);
    return true;
  }
  if (!tokenFromHash()) {
    try { token = sessionStorage.getItem('xdbm-token'); } catch (e) { token = null; }
  }
  window.addEventListener('hashchange', function () {
    if (tokenFromHash()) { $('token-form').hidden = true; poll(); }
  });

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function badge(state) { return el('span', 'badge ' + state, state); }
  function hhmmss(ms) { return ms > 0 ? new Date(ms).toISOString().slice(11, 19) : '-'; }
  function color(id) {
    if (!colorOf[id]) colorOf[id] = COLORS[nextColor++ % COLORS.length];
    return colorOf[id];
  }
  function fmtUs(v) { return v >= 10000 ? (v / 1000).toFixed(1) + ' ms' : Math.round(v) + ' us'; }

  function renderAlerts(st) {
    var ul = $('alerts');
    clear(ul);
    var firing = st.alerts.firing;
    if (!firing.length) { ul.appendChild(el('li', 'none', 'none')); return; }
    firing.forEach(function (a) {
      var li = el('li', a.severity);
      li.setAttribute('data-rule', a.ruleName);
      li.textContent = a.severity.toUpperCase() + ' ' + a.ruleName + ': ' + a.condition + ' (since ' + hhmmss(a.firingSinceMs) + ')';
      ul.appendChild(li);
    });
  }

  function renderActive(st) {
    var box = $('active');
    clear(box);
    $('active-count').textContent = st.active.length + ' / ' + st.stats.stats.targetCount;
    st.active.forEach(function (a) {
      var c = el('div', 'card');
      c.setAttribute('data-endpoint', a.endpointId);
      c.style.borderLeftColor = color(a.endpointId);
      var id = el('div', 'id', a.endpointId + ' ');
      id.appendChild(badge(a.state));
      c.appendChild(id);
      c.appendChild(el('div', 'meta', 'node ' + a.nodeId + ' (' + a.nodeAddress + ') - ' + a.type));
      c.appendChild(el('div', 'meta', 'latency ' + fmtUs(a.metrics.avgLatencyUs) + ', p99 ' + fmtUs(a.metrics.p99LatencyUs) +
        ', ' + a.metrics.bandwidthMBps.toFixed(1) + ' MB/s, load ' + (a.metrics.load * 100).toFixed(1) + '%'));
      box.appendChild(c);
    });
    if (!st.active.length) box.appendChild(el('div', 'none', 'no active backends'));
  }

  function renderCandidates(st) {
    var box = $('candidates');
    clear(box);
    var byNode = {};
    var order = [];
    st.candidates.forEach(function (c) {
      if (!byNode[c.nodeId]) { byNode[c.nodeId] = []; order.push(c.nodeId); }
      byNode[c.nodeId].push(c);
    });
    order.forEach(function (nodeId) {
      var n = el('div', 'node');
      n.setAttribute('data-node', nodeId);
      var h = el('h3', null, nodeId + ' ');
      h.appendChild(el('span', 'sub', byNode[nodeId][0].nodeAddress));
      n.appendChild(h);
      byNode[nodeId].forEach(function (c) {
        var row = el('div', 'ep' + (c.active ? ' active' : ''));
        row.setAttribute('data-endpoint', c.endpointId);
        row.setAttribute('data-state', c.state);
        row.appendChild(el('span', null, c.endpointId + ' (' + c.type + ', w ' + c.weight.toFixed(2) + ')'));
        row.appendChild(badge(c.state));
        n.appendChild(row);
      });
      box.appendChild(n);
    });
  }

  function renderChart(st) {
    var box = $('chart');
    var legend = $('legend');
    clear(box);
    clear(legend);
    var W = 600, H = 220, L = 48, R = 8, T = 8, B = 20;
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'latency per backend' });
    var ids = Object.keys(st.latency);
    // The window spans the history there is: at least 30 s, at most 5 min.
    var tMax = st.nowMs, first = tMax, vMax = 1;
    ids.forEach(function (id) { if (st.latency[id].length && st.latency[id][0].atMs < first) first = st.latency[id][0].atMs; });
    var spanMs = Math.min(5 * 60 * 1000, Math.max(30 * 1000, tMax - first));
    var tMin = tMax - spanMs;
    ids.forEach(function (id) {
      st.latency[id].forEach(function (p) { if (p.atMs >= tMin && p.avgLatencyUs > vMax) vMax = p.avgLatencyUs; });
    });
    vMax *= 1.1;
    for (var i = 0; i <= 4; i++) {
      var y = T + (H - T - B) * i / 4;
      s.appendChild(svg('line', { x1: L, x2: W - R, y1: y, y2: y, stroke: '#2a333d', 'stroke-width': 1 }));
      var lab = svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' });
      lab.textContent = fmtUs(vMax * (4 - i) / 4);
      s.appendChild(lab);
    }
    var tl = svg('text', { x: L, y: H - 4 }); tl.textContent = '-' + Math.round(spanMs / 1000) + ' s'; s.appendChild(tl);
    var tr = svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }); tr.textContent = 'now'; s.appendChild(tr);
    var activeIds = {};
    st.active.forEach(function (a) { activeIds[a.endpointId] = true; });
    ids.forEach(function (id) {
      var pts = st.latency[id].filter(function (p) { return p.atMs >= tMin; }).map(function (p) {
        var x = L + (W - L - R) * (p.atMs - tMin) / (tMax - tMin);
        var y = T + (H - T - B) * (1 - p.avgLatencyUs / vMax);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      if (!pts.length) return;
      var line = svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color(id),
        'stroke-width': activeIds[id] ? 2.2 : 1, 'stroke-opacity': activeIds[id] ? 1 : 0.45 });
      line.setAttribute('data-endpoint', id);
      s.appendChild(line);
      var li = el('li', null);
      var sw = el('i'); sw.style.background = color(id);
      li.appendChild(sw);
      li.appendChild(document.createTextNode(id + (activeIds[id] ? ' (active)' : '')));
      legend.appendChild(li);
    });
    box.appendChild(s);
  }

  function renderSummary(st) {
    var dl = $('summary');
    clear(dl);
    var m = st.stats.monitoring, s = st.stats.stats;
    [
      ['availability', (m.overall_availability * 100).toFixed(1) + '%'],
      ['healthy / total', m.healthy_backend_count + ' / ' + m.total_backend_count],
      ['states', 'H ' + s.healthy + ', D ' + s.degraded + ', U ' + s.unhealthy + ', F ' + s.failed + ', ? ' + s.unknown],
      ['ops/s', m.operations_per_second.toFixed(1)],
      ['op latency avg / p99', fmtUs(m.avg_operation_latency_us) + ' / ' + fmtUs(m.p99_operation_latency_us)],
      ['failovers (1 h)', s.failoverCount + ' (' + m.failover_events_last_hour + ')'],
      ['failed failovers', m.failed_failovers],
      ['avg failover', Math.round(m.avg_failover_time_ms) + ' ms'],
      ['uptime', st.stats.uptimeS + ' s'],
    ].forEach(function (kv) { dl.appendChild(el('dt', null, kv[0])); dl.appendChild(el('dd', null, kv[1])); });
  }

  function renderTimeline(st) {
    var ol = $('timeline');
    clear(ol);
    var evs = st.timeline.filter(function (e) { return e.kind !== 'state-changed'; }).slice().reverse();
    if (!evs.length) { ol.appendChild(el('li', 'none', 'no failovers yet')); return; }
    evs.forEach(function (e) {
      var li = el('li');
      li.setAttribute('data-kind', e.kind);
      li.appendChild(el('span', 't', hhmmss(e.atMs)));
      var text;
      if (e.kind === 'failover') {
        var r = e.record;
        li.setAttribute('data-failed', r.failedId);
        li.setAttribute('data-replacement', r.replacementId || '');
        text = 'failover ' + r.failedId + ' -> ' + (r.replacementId || 'none') + ' in ' + Math.round(r.durationMs) + ' ms' +
          (r.manual ? ' (manual)' : '') + ': ' + r.reason + (r.ok ? '' : ' FAILED' + (r.error ? ' ' + r.error.code : ''));
        if (!r.ok) li.className = 'fail';
      } else if (e.kind === 'active-changed') {
        text = 'active set ' + e.previous.join(', ') + ' -> ' + e.current.join(', ') + ': ' + e.reason;
      } else if (e.kind === 'alert') {
        text = 'alert ' + e.ruleName + ' ' + e.transition + ' (' + e.severity + ')';
      } else if (e.kind === 'reload') {
        text = 'config reload ' + (e.ok ? 'applied ' : 'REJECTED ') + e.summary;
        if (!e.ok) li.className = 'fail';
      } else {
        text = e.kind;
      }
      li.appendChild(document.createTextNode(text));
      ol.appendChild(li);
    });
  }

  // One line per log: fully replicated, or how many entries lack ack_quorum healthy copies and where.
  function renderWal(st) {
    var ul = $('wal');
    clear(ul);
    var logs = st.wal || [];
    if (!logs.length) { ul.appendChild(el('li', 'none', 'no logs')); return; }
    logs.forEach(function (v) {
      var li = el('li', v.error ? 'critical' : v.underReplicatedEntries > 0 ? 'warning' : 'none');
      li.setAttribute('data-log', v.log);
      li.textContent = v.error ? v.log + ': ' + v.error.code + ' ' + v.error.message
        : v.log + ': ' + (v.underReplicatedEntries > 0 ? v.underReplicatedEntries + ' entries under-replicated (' +
          v.ranges.map(function (r) { return r.fromIndex + '-' + r.toIndex + ' on ' + (r.healthy.join(', ') || 'none'); }).join('; ') + ')'
          : 'fully replicated, ' + v.epochs + ' epoch(s) from index ' + v.firstIndex);
      ul.appendChild(li);
    });
  }

  function render(st) {
    renderAlerts(st);
    renderWal(st);
    renderActive(st);
    renderCandidates(st);
    renderChart(st);
    renderSummary(st);
    renderTimeline(st);
    document.body.setAttribute('data-updated', String(st.nowMs));
  }

  function setConn(text, bad) {
    var c = $('conn');
    c.textContent = text;
    c.className = 'conn' + (bad ? ' err' : '');
  }

  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token-input').value.trim() || null;
    try { if (token) sessionStorage.setItem('xdbm-token', token); } catch (e) { /* ignore */ }
    $('token-form').hidden = true;
    poll();
  });

  var timer = null;
  function poll() {
    clearTimeout(timer);
    var headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    fetch('/api/state', { headers: headers, cache: 'no-store' }).then(function (res) {
      if (res.status === 401) {
        $('token-form').hidden = false;
        setConn('token required (admin.token_file)', true);
        return null;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (st) {
      if (!st) return;
      render(st);
      setConn('live - updated ' + hhmmss(st.nowMs) + ' UTC', false);
      timer = setTimeout(poll, POLL_MS);
    }).catch(function (e) {
      setConn('daemon unreachable (' + e.message + '), retrying', true);
      timer = setTimeout(poll, POLL_MS * 2);
    });
  }
  poll();
})();
`;
