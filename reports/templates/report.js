/* loganalyzer incident report: charts, filters and the request waterfall.
 * Everything that came from the logs is inserted as text (textContent, createTextNode, new Option),
 * never parsed as HTML. The page loads nothing: its data is the JSON block above. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var S = D.S;
  var BASE = D.base;
  var NS = 'http://www.w3.org/2000/svg';
  var PAGE = 100;

  // ------------------------------------------------------------------ DOM helpers
  function put(e, attrs, kids) {
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null) continue;
        if (k === 'text') e.textContent = String(attrs[k]);
        else e.setAttribute(k, String(attrs[k]));
      }
    }
    if (kids) {
      for (var i = 0; i < kids.length; i++) {
        var c = kids[i];
        if (c == null) continue;
        e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
      }
    }
    return e;
  }
  function h(tag, attrs, kids) { return put(document.createElement(tag), attrs, kids); }
  function s(tag, attrs, kids) { return put(document.createElementNS(NS, tag), attrs, kids); }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function $(id) { return document.getElementById(id); }
  function str(i) { return i == null ? null : S[i]; }
  function fmtInt(n) { return Number(n).toLocaleString('en-US'); }
  function tip(node, text) { node.appendChild(s('title', {text: text})); return node; }

  // ------------------------------------------------------------------ time
  function iso(rel) { return new Date(BASE + rel).toISOString(); }
  function utc(rel, ms) { return iso(rel).slice(11, ms ? 23 : 19); }
  function utcDate(rel) { return iso(rel).slice(0, 10); }
  function zoneFormatter(zone) {
    if (!zone) return null;
    var m = /^(?:UTC|GMT)?([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (m) {
      var off = (m[1] === '-' ? -1 : 1) * (parseInt(m[2], 10) * 60 + parseInt(m[3], 10)) * 60000;
      return function (rel, ms) { return new Date(BASE + rel + off).toISOString().slice(11, ms ? 23 : 19); };
    }
    if (/^(UTC|Z|Etc\/UTC)$/.test(zone)) return function (rel, ms) { return utc(rel, ms); };
    try {
      var f = new Intl.DateTimeFormat('en-GB', {timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit',
        hourCycle: 'h23'});
      return function (rel, ms) {
        var d = new Date(BASE + rel);
        var t = f.format(d);
        return ms ? t + '.' + String(d.getUTCMilliseconds()).padStart(3, '0') : t;
      };
    } catch (err) {
      return null;
    }
  }
  var LOCAL = zoneFormatter(D.local_zone);
  function both(rel) {
    var t = utc(rel, true) + ' UTC';
    if (LOCAL) t += ' (' + LOCAL(rel, true) + ' ' + D.local_zone + ')';
    return t;
  }
  var TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5,
    72e5, 144e5, 216e5, 432e5, 864e5];
  function tickStep(span, want) {
    for (var i = 0; i < TICKS.length; i++) if (TICKS[i] >= span / want) return TICKS[i];
    return TICKS[TICKS.length - 1];
  }
  function tickLabel(fmt, rel, step) {
    var t = fmt(rel, step < 1000);
    return step >= 60000 ? t.slice(0, 5) : t;
  }
  function parseTime(text) {
    text = (text || '').trim();
    if (!text) return null;
    var m = /^(?:(\d{4}-\d{2}-\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,3}))?)?$/.exec(text);
    if (!m) return NaN;
    var day = m[1] || utcDate(D.from);
    var ms = Date.parse(day + 'T00:00:00Z') + (+m[2]) * 3600e3 + (+m[3]) * 60e3 + (+(m[4] || 0)) * 1e3 +
      (+((m[5] || '0') + '00').slice(0, 3));
    return ms - BASE;
  }

  // ------------------------------------------------------------------ data
  var R = D.rows;
  var N = R.n;
  var rows = new Array(N);
  for (var i = 0; i < N; i++) {
    rows[i] = {
      i: i, aid: R.aid[i], t: R.t[i], id: R.id[i], lid: R.lid[i] != null ? R.lid[i] : R.id[i], a: R.a[i], la: R.la[i],
      m: str(R.m[i]), p: str(R.p[i]), ep: str(R.ep[i]), sc: R.sc[i], sp: R.sp[i], su: R.su[i], v: str(R.v[i]),
      c: str(R.c[i]), d: str(R.d[i]), vr: str(R.vr[i]), rl: str(R.rl[i]), lk: str(R.lk[i]), cf: R.cf[i],
      ce: str(R.ce[i]), el: R.el[i], rt: R.rt[i], urt: R.urt[i], ua: str(R.ua[i]), cn: R.cn[i], ca: str(R.ca[i]),
      ag: str(R.ag[i]), x: R.x[i], ev: R.ev[i], uo: R.uo ? str(R.uo[i]) : null
    };
  }
  var byLogical = {};
  rows.forEach(function (r) { if (r.lid != null) (byLogical[r.lid] = byLogical[r.lid] || []).push(r); });
  var VERDICTS = D.verdicts.slice();
  Object.keys(D.agg.verdict).forEach(function (v) { if (VERDICTS.indexOf(v) < 0) VERDICTS.push(v); });
  // verdict colours, glosses and places: the export's vocabulary (the rules the analysis ran with)
  var VOCAB = D.vocabulary || {};
  var VCOLOR = {};
  Object.keys(VOCAB).forEach(function (v) { VCOLOR[v] = VOCAB[v].colour; });
  var KCOLOR = {TRACE: '#e3e7ec', DEBUG: '#d7dde5', INFO: '#b8c4d2', NOTICE: '#8fb3d9', WARN: '#f0a830',
    WARNING: '#f0a830', ERROR: '#d32f2f', CRIT: '#9b1c1c', FATAL: '#7b1010', ALERT: '#7b1010', EMERG: '#7b1010',
    '2xx': '#9ccc9a', '3xx': '#8fb3d9', '4xx': '#f0a830', '5xx': '#d32f2f'};
  var KORDER = ['2xx', '3xx', 'TRACE', 'DEBUG', 'INFO', 'NOTICE', '4xx', 'WARN', 'WARNING', '5xx', 'ERROR', 'CRIT',
    'ALERT', 'FATAL', 'EMERG'];
  function kcolor(k) { return KCOLOR[k] || '#a7b0bb'; }
  function korder(k) { var i = KORDER.indexOf(k); return i < 0 ? 5 : i; }
  function eventColor(level, status) {
    if (status != null && status >= 500) return KCOLOR['5xx'];
    if (status != null && status >= 400) return KCOLOR['4xx'];
    return KCOLOR[level] || '#7d8794';
  }

  // ------------------------------------------------------------------ state
  // the table opens on the failures, worst first: attempts whose request failed for good, then retried ones
  var ANY_FAILED = rows.some(function (r) { return r.v !== 'ok'; });
  rows.forEach(function (r) { r.w = r.v === 'ok' ? 2 : (r.la ? 0 : 1); });
  var state = {win: null, f: {verdict: ANY_FAILED ? '*failed' : '', cause: '', endpoint: '', status: '', q: ''},
    sort: ANY_FAILED ? {key: 'w', dir: 1} : {key: 't', dir: 1}, page: 0, sel: null};
  function domain() { return state.win ? state.win : [D.from, D.to]; }

  // ------------------------------------------------------------------ charts
  var LEFT = 170, RIGHT = 16;
  function width(el) {
    var W = Math.max(280, Math.floor(el.getBoundingClientRect().width || el.clientWidth || 960));
    LEFT = W < 600 ? 92 : 170;  // a phone gets narrower lane labels
    return W;
  }
  function scale(W) {
    var d = domain();
    var k = (W - LEFT - RIGHT) / Math.max(d[1] - d[0], 1);
    return {d: d, x: function (t) { return LEFT + (t - d[0]) * k; },
      inv: function (px) { return d[0] + (px - LEFT) / k; }};
  }
  function axis(g, sc, W, y, rowsOn, H) {
    var span = sc.d[1] - sc.d[0];
    var step = tickStep(span, Math.max(3, Math.floor((W - LEFT) / 110)));
    var first = Math.ceil((BASE + sc.d[0]) / step) * step - BASE;
    var ax = s('g', {'class': 'axis'});
    ax.appendChild(s('text', {x: 6, y: y, text: 'UTC ' + utcDate(sc.d[0])}));
    if (rowsOn && LOCAL) ax.appendChild(s('text', {x: 6, y: y + 13, text: D.local_zone}));
    for (var t = first; t <= sc.d[1]; t += step) {
      var x = sc.x(t);
      ax.appendChild(s('line', {x1: x, x2: x, y1: y + 4, y2: H, 'class': 'grid'}));
      ax.appendChild(s('text', {x: x, y: y, 'text-anchor': 'middle', text: tickLabel(utc, t, step)}));
      if (rowsOn && LOCAL) {
        ax.appendChild(s('text', {x: x, y: y + 13, 'text-anchor': 'middle', 'class': 'lane-sub',
          text: tickLabel(LOCAL, t, step)}));
      }
    }
    g.appendChild(ax);
  }
  function drawMarks(g, sc, top, bottom, labels) {
    var d = sc.d;
    D.marks.forEach(function (m) {
      if (m.kind === 'run') {
        if (m.t2 < d[0] || m.t > d[1]) return;
        var x0 = sc.x(Math.max(m.t, d[0])), x1 = sc.x(Math.min(m.t2, d[1]));
        g.appendChild(tip(s('rect', {x: x0, y: top, width: Math.max(x1 - x0, 2), height: bottom - top,
          'class': 'mark-run'}), m.label + ': ' + utc(m.t, true) + ' to ' + utc(m.t2, true) + ' UTC'));
        return;
      }
      if (m.t < d[0] || m.t > d[1]) return;
      var x = sc.x(m.t);
      g.appendChild(tip(s('line', {x1: x, x2: x, y1: top, y2: bottom, 'class': 'mark-' + m.kind,
        'data-mark': m.kind}), m.label + ' — ' + both(m.t)));
      if (labels && (m.kind === 'first' || m.kind === 'trigger' || m.kind === 'last')) {
        var text = m.kind === 'trigger' ? m.label.replace(/^suspected trigger: /, 'trigger: ') : m.label;
        if (text.length > 60) text = text.slice(0, 57) + '…';
        var wide = text.length * 6.6;  // about, at 11px bold
        var anchor = m.kind === 'first' ? 'start' : 'end';
        if (anchor === 'end' && x - wide < LEFT) anchor = 'start';
        if (anchor === 'start' && x + wide > sc.x(d[1])) anchor = 'end';
        g.appendChild(s('text', {x: x + (anchor === 'start' ? 4 : -4), y: top + (m.kind === 'trigger' ? 11 : 24),
          'text-anchor': anchor, 'class': 'label-' + m.kind, text: text}));
      }
    });
  }
  function brush(svgEl, sc, top, bottom) {
    var rect = s('rect', {'class': 'brush', x: 0, y: top, width: 0, height: bottom - top, visibility: 'hidden'});
    svgEl.appendChild(rect);
    var start = null;
    function px(ev) { var b = svgEl.getBoundingClientRect(); return ev.clientX - b.left; }
    svgEl.addEventListener('pointerdown', function (ev) {
      var x = px(ev);
      if (x < LEFT || ev.button !== 0) return;
      start = x;
      svgEl.setPointerCapture(ev.pointerId);
      put(rect, {x: x, width: 0, visibility: 'visible'});
      ev.preventDefault();
    });
    svgEl.addEventListener('pointermove', function (ev) {
      if (start == null) return;
      var x = Math.max(LEFT, Math.min(px(ev), svgEl.getBoundingClientRect().width - RIGHT));
      put(rect, {x: Math.min(start, x), width: Math.abs(x - start)});
    });
    svgEl.addEventListener('pointerup', function (ev) {
      if (start == null) return;
      var x = Math.max(LEFT, Math.min(px(ev), svgEl.getBoundingClientRect().width - RIGHT));
      var a = Math.min(start, x), b = Math.max(start, x);
      start = null;
      put(rect, {visibility: 'hidden'});
      if (b - a >= 4) setWindow([sc.inv(a), sc.inv(b)]);
    });
    svgEl.addEventListener('dblclick', function () { setWindow(null); });
  }

  function drawTimeline() {
    var host = $('timeline');
    clear(host);
    var W = width(host);
    var sc = scale(W);
    var d = sc.d;
    var LH = 46, GAP = 6, TOP = LOCAL ? 60 : 48;
    var lanes = D.lanes;
    var H = TOP + lanes.length * (LH + GAP) + 4;
    var svgEl = s('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-label': 'Log lines per source over time'});
    axis(svgEl, sc, W, 12, true, H);
    var legendKeys = {};
    lanes.forEach(function (lane, li) {
      var y = TOP + li * (LH + GAP);
      var g = s('g', {'class': 'lane', 'data-source': lane.source});
      g.appendChild(s('rect', {x: LEFT, y: y, width: W - LEFT - RIGHT, height: LH, 'class': 'lane-bg'}));
      g.appendChild(s('text', {x: 6, y: y + 16, 'class': 'lane-label', text: D.sources[lane.source] || lane.source}));
      var z = D.zones[lane.source] || {};
      var sub = z.zone ? 'zone ' + z.zone : (z.zone_source || '');
      var off = D.offsets.filter(function (o) { return o.source === lane.source && o.applied; })[0];
      g.appendChild(tip(s('text', {x: 6, y: y + 30, 'class': 'lane-sub', text: sub.length > 26 ? sub.slice(0, 25) + '…' : sub}),
        (z.zone ? 'zone ' + z.zone + ' ' : '') + (z.zone_source || '')));
      if (off) g.appendChild(tip(s('text', {x: 6, y: y + 42, 'class': 'lane-sub', text: 'clock corrected ' +
        (off.seconds > 0 ? '−' : '+') + fmtDur(Math.abs(off.seconds) * 1000)}), off.text || ''));
      // counts per bucket, stacked by level (or status class)
      var max = 1;
      for (var j = 0; j < lane.t.length; j++) {
        var tot = 0;
        for (var k = 0; k < lane.keys.length; k++) tot += lane.c[j][k];
        if (lane.t[j] + lane.step >= d[0] && lane.t[j] <= d[1]) max = Math.max(max, tot);
      }
      var order = lane.keys.map(function (k, ix) { return [k, ix]; }).sort(function (a, b) {
        return korder(a[0]) - korder(b[0]);
      });
      // buckets wider than a 25th of the view only hint at volume: drawn faint, and said so
      var coarse = lane.step > (d[1] - d[0]) / 25;
      if (coarse) {
        g.appendChild(s('text', {x: W - RIGHT - 4, y: y + 24, 'text-anchor': 'end', 'class': 'lane-sub',
          text: 'counts per ' + fmtDur(lane.step)}));
      }
      var bars = s('g', {'class': 'counts' + (coarse ? ' coarse' : '')});
      for (j = 0; j < lane.t.length; j++) {
        var t0 = lane.t[j], t1 = t0 + (lane.step || 1000);
        if (t1 < d[0] || t0 > d[1]) continue;
        var x0 = Math.max(sc.x(t0), LEFT), x1 = Math.min(sc.x(t1), W - RIGHT);
        var total = 0;
        for (k = 0; k < lane.keys.length; k++) total += lane.c[j][k];
        if (!total) continue;
        var hh = (LH - 14) * Math.sqrt(total / max);
        var yy = y + LH;
        var parts = [];
        order.forEach(function (ko) {
          var n = lane.c[j][ko[1]];
          if (!n) return;
          legendKeys[ko[0]] = 1;
          var seg = hh * n / total;
          yy -= seg;
          bars.appendChild(s('rect', {x: x0, y: yy, width: Math.max(x1 - x0 - 0.5, 0.8), height: Math.max(seg, 0.8),
            fill: kcolor(ko[0]), 'data-key': ko[0]}));
          parts.push(ko[0] + ' ' + n);
        });
        bars.appendChild(tip(s('rect', {x: x0, y: y, width: Math.max(x1 - x0, 0.8), height: LH, fill: 'transparent'}),
          (D.sources[lane.source] || lane.source) + ', ' + utc(t0, true) + '–' + utc(t1, true) + ' UTC: ' +
          parts.join(', ')));
      }
      g.appendChild(bars);
      // notable events: ticks at the top of the lane
      var ticks = s('g', {'class': 'events'});
      var srcIx = S.indexOf(lane.source);
      D.events.forEach(function (e) {
        if (e[1] !== srcIx || e[0] < d[0] || e[0] > d[1]) return;
        var x = sc.x(e[0]);
        var level = str(e[2]), status = e[3];
        ticks.appendChild(tip(s('line', {x1: x, x2: x, y1: y + 1, y2: y + 12, stroke: eventColor(level, status),
          'class': 'ev-tick'}), both(e[0]) + '  ' + (str(e[5]) || '') + ':' + e[6] + '\n' +
          (status != null ? status + ' ' : '') + (level || '') + '  ' + (str(e[4]) || '')));
      });
      g.appendChild(ticks);
      svgEl.appendChild(g);
    });
    drawMarks(svgEl, sc, TOP - 28, H, true);
    var plot = s('rect', {x: LEFT, y: 0, width: W - LEFT - RIGHT, height: H, fill: 'transparent', 'class': 'plot'});
    svgEl.appendChild(plot);
    brush(svgEl, sc, TOP - 28, H);
    host.appendChild(svgEl);
    var leg = clear($('timeline-legend'));
    Object.keys(legendKeys).sort(function (a, b) { return korder(a) - korder(b); }).forEach(function (k) {
      leg.appendChild(h('span', null, [swatch(kcolor(k)), k]));
    });
    leg.appendChild(h('span', null, [swatch('#c62828', true), 'first failure']));
    leg.appendChild(h('span', null, [swatch('#6a1b9a', true), 'suspected trigger']));
    leg.appendChild(h('span', null, [swatch('rgba(198,40,40,0.25)'), 'longest failure run']));
    leg.appendChild(h('span', null, ['ticks: warnings, errors and 5xx lines']));
  }
  function swatch(color, thin) {
    var sv = s('svg', {width: 12, height: 10});
    sv.appendChild(s('rect', {x: thin ? 5 : 0, y: 0, width: thin ? 2 : 12, height: 10, fill: color}));
    return sv;
  }
  function fmtDur(ms) {
    if (ms == null) return '-';
    if (ms === 0) return '0 ms';
    if (ms < 1) return ms.toFixed(2) + ' ms';
    if (ms < 1000) return (Math.round(ms * 10) / 10) + ' ms';
    if (ms < 60000) return (Math.round(ms / 10) / 100) + ' s';
    var sec = Math.round(ms / 1000);
    if (sec < 3600) return Math.floor(sec / 60) + ' min' + (sec % 60 ? ' ' + sec % 60 + ' s' : '');
    return Math.floor(sec / 3600) + ' h' + (Math.round(sec % 3600 / 60) ? ' ' + Math.round(sec % 3600 / 60) + ' min' : '');
  }

  function drawOverTime() {
    var host = $('overtime');
    clear(host);
    var W = width(host);
    var sc = scale(W);
    var d = sc.d;
    var A = D.agg;
    var H = 170, TOP = 22, BOTTOM = H - 8;
    var svgEl = s('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img',
      'aria-label': 'Attempts over time by verdict'});
    axis(svgEl, sc, W, 12, false, BOTTOM);
    var max = 1, j, v;
    for (j = 0; j < A.n; j++) {
      var t0 = A.t0 + j * A.step;
      if (t0 + A.step < d[0] || t0 > d[1]) continue;
      var tot = 0;
      for (v in A.verdict) tot += A.verdict[v][j];
      max = Math.max(max, tot);
    }
    var ph = BOTTOM - TOP;
    svgEl.appendChild(s('text', {x: LEFT - 6, y: TOP + 8, 'text-anchor': 'end', text: fmtInt(max)}));
    svgEl.appendChild(s('text', {x: LEFT - 6, y: BOTTOM, 'text-anchor': 'end', text: '0'}));
    svgEl.appendChild(s('text', {x: 6, y: TOP + 30, 'class': 'lane-sub', text: 'attempts per ' + fmtDur(A.step)}));
    var order = VERDICTS.filter(function (x) { return A.verdict[x]; });
    var bars = s('g', {'class': 'bars'});
    for (j = 0; j < A.n; j++) {
      var b0 = A.t0 + j * A.step, b1 = b0 + A.step;
      if (b1 < d[0] || b0 > d[1]) continue;
      var x0 = Math.max(sc.x(b0), LEFT), x1 = Math.min(sc.x(b1), W - RIGHT);
      var y = BOTTOM, parts = [];
      order.forEach(function (vv) {
        var n = A.verdict[vv][j];
        if (!n) return;
        var hgt = ph * n / max;
        y -= hgt;
        bars.appendChild(s('rect', {x: x0, y: y, width: Math.max(x1 - x0 - 0.5, 0.8), height: hgt,
          fill: VCOLOR[vv] || '#999', 'data-verdict': vv}));
        parts.push(vv + ' ' + n);
      });
      if (parts.length) {
        bars.appendChild(tip(s('rect', {x: x0, y: TOP, width: Math.max(x1 - x0, 0.8), height: ph,
          fill: 'transparent'}), utc(b0, true) + '–' + utc(b1, true) + ' UTC: ' + parts.join(', ')));
      }
    }
    svgEl.appendChild(bars);
    drawMarks(svgEl, sc, TOP, BOTTOM, false);
    svgEl.appendChild(s('rect', {x: LEFT, y: 0, width: W - LEFT - RIGHT, height: H, fill: 'transparent',
      'class': 'plot'}));
    brush(svgEl, sc, TOP, BOTTOM);
    host.appendChild(svgEl);
    var leg = clear($('overtime-legend'));
    order.forEach(function (vv) { leg.appendChild(h('span', null, [swatch(VCOLOR[vv] || '#999'), vv])); });
  }

  // ------------------------------------------------------------------ window
  function setWindow(w) {
    if (w) {
      // whole milliseconds, so the window is exactly what its inputs show
      var a = Math.floor(Math.max(Math.min(w[0], w[1]), D.from)), b = Math.ceil(Math.min(Math.max(w[0], w[1]), D.to));
      w = b - a >= 1 ? [a, b] : null;
    }
    state.win = w;
    state.page = 0;
    document.body.classList.toggle('windowed', !!w);
    $('window-from').value = w ? utc(w[0], true) : '';
    $('window-to').value = w ? utc(w[1], true) : '';
    $('window-label').textContent = w ? 'window ' + utc(w[0], true) + ' – ' + utc(w[1], true) + ' UTC (' +
      fmtDur(w[1] - w[0]) + ')' : 'whole incident';
    drawTimeline();
    drawOverTime();
    updateCounts();
    renderTable();
  }
  function inWindow(t) { return !state.win || (t != null && t >= state.win[0] && t <= state.win[1]); }
  function windowCount(kind, name) {
    // exact from the embedded attempts when they are all here; else from the per-bucket counts
    if (D.sampling.complete) {
      var n = 0;
      for (var i = 0; i < N; i++) {
        var r = rows[i];
        if (!inWindow(r.t)) continue;
        if (kind === 'verdict' ? r.v === name : (r.c === name && r.v !== 'ok')) n++;
      }
      return n;
    }
    var arr = D.agg[kind][name] || [], A = D.agg, m = 0;
    for (var j = 0; j < A.n; j++) {
      var b0 = A.t0 + j * A.step;
      if (b0 + A.step > state.win[0] && b0 <= state.win[1]) m += arr[j];
    }
    return m;
  }
  function updateCounts() {
    var approx = D.sampling.complete ? '' : '≈ ';
    document.querySelectorAll('#verdict-counts tr[data-verdict]').forEach(function (tr) {
      tr.querySelector('.win-count').textContent = state.win ? approx + fmtInt(windowCount('verdict', tr.getAttribute('data-verdict'))) : '';
    });
    document.querySelectorAll('#cause-counts tr[data-cause]').forEach(function (tr) {
      tr.querySelector('.win-count').textContent = state.win ? approx + fmtInt(windowCount('cause', tr.getAttribute('data-cause'))) : '';
    });
    document.querySelectorAll('.cause-card').forEach(function (card) {
      var name = card.getAttribute('data-cause');
      var out = card.querySelector('.cause-window');
      if (!state.win) { out.textContent = ''; card.classList.remove('dim'); return; }
      var n = windowCount('cause', name);
      out.textContent = '· ' + approx + fmtInt(n) + ' in the window';
      out.setAttribute('data-count', String(n));
      card.classList.toggle('dim', n === 0);
    });
  }

  // ------------------------------------------------------------------ table
  function statusText(v) { return v == null ? '–' : String(v); }
  function statusClass(v) { return v == null ? 'st-none' : v >= 500 ? 'st-5' : v >= 400 ? 'st-4' : ''; }
  function matches(r) {
    var f = state.f;
    if (!inWindow(r.t)) return false;
    if (f.verdict && (f.verdict === '*failed' ? r.v === 'ok' : r.v !== f.verdict)) return false;
    if (f.cause && r.c !== f.cause) return false;
    if (f.endpoint && r.ep !== f.endpoint) return false;
    if (f.status) {
      if (f.status === 'none') { if (r.sc != null || r.sp != null || r.su != null) return false; }
      else if (String(r.sc) !== f.status && String(r.sp) !== f.status && String(r.su) !== f.status) return false;
    }
    if (f.q) {
      var q = f.q.toLowerCase();
      if ((r.id || '').toLowerCase().indexOf(q) < 0 && (r.p || '').toLowerCase().indexOf(q) < 0 &&
        (r.lid || '').toLowerCase().indexOf(q) < 0) return false;
    }
    return true;
  }
  function compare(key, dir) {
    return function (a, b) {
      var x = a[key], y = b[key];
      if (x == null && y == null) return a.i - b.i;
      if (x == null) return 1;
      if (y == null) return -1;
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.i - b.i;
    };
  }
  var current = [];
  function renderTable() {
    current = rows.filter(matches);
    if (state.sort.key === 'w') current.sort(function (a, b) { return a.w - b.w || compare('t', 1)(a, b); });
    else if (state.sort.key !== 't' || state.sort.dir !== 1) current.sort(compare(state.sort.key, state.sort.dir));
    var pages = Math.max(1, Math.ceil(current.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    var tbody = clear(document.querySelector('#requests-table tbody'));
    var slice = current.slice(state.page * PAGE, state.page * PAGE + PAGE);
    var frag = document.createDocumentFragment();
    slice.forEach(function (r) {
      var tr = h('tr', {'data-aid': r.aid, 'data-verdict': r.v, 'data-t': r.t, tabindex: 0,
        'class': (r.v !== 'ok' ? 'failed' : '') + (state.sel === r ? ' selected' : '')});
      tr.appendChild(h('td', {'class': 'mono', text: r.t == null ? '–' : utc(r.t, true)}));
      var idText = (r.id || '#' + r.aid);
      tr.appendChild(h('td', {'class': 'mono', title: idText}, [idText.length > 14 ? idText.slice(0, 12) + '…' : idText,
        h('small', {text: ' #' + (r.a == null ? '?' : r.a)})]));
      tr.appendChild(h('td', {text: r.m || '–'}));
      tr.appendChild(h('td', {'class': 'path mono', text: r.p || '–'}));
      [r.sc, r.sp].forEach(function (v) {
        tr.appendChild(h('td', {'class': 'num ' + statusClass(v), text: statusText(v)}));
      });
      tr.appendChild(upstreamCell(r));
      tr.appendChild(h('td', {'class': 'verdict'}, [h('span', {'class': 'sw v-' + safeClass(r.v)}), r.v]));
      tr.appendChild(h('td', {'class': 'cause', text: r.v === 'ok' ? '' : r.c + (r.d ? ' (' + r.d + ')' : '')}));
      tr.addEventListener('click', function () { select(r); });
      tr.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') select(r); });
      frag.appendChild(tr);
    });
    tbody.appendChild(frag);
    $('match-count').textContent = fmtInt(current.length);
    $('match-label').textContent = (current.length === 1 ? 'attempt' : 'attempts') + ' match' +
      (current.length === 1 ? 'es' : '') + (D.sampling.complete ? ' (of ' + fmtInt(N) + ')' :
      ' (of ' + fmtInt(N) + ' in this page, ' + fmtInt(D.sampling.total) + ' in all)');
    $('pg-info').textContent = current.length ? 'rows ' + fmtInt(state.page * PAGE + 1) + '–' +
      fmtInt(state.page * PAGE + slice.length) + ' of ' + fmtInt(current.length) : 'no rows';
    $('pg-prev').disabled = state.page === 0;
    $('pg-next').disabled = state.page >= pages - 1;
    document.querySelectorAll('#requests-table th.sortable').forEach(function (th) {
      var k = th.getAttribute('data-key');
      th.classList.toggle('sorted-asc', k === state.sort.key && state.sort.dir === 1);
      th.classList.toggle('sorted-desc', k === state.sort.key && state.sort.dir === -1);
    });
  }
  function upstreamCell(r) {
    // nginx logs $upstream_status 502/504 when the upstream closed, refused or never answered: say that
    if (r.uo) {
      return h('td', {'class': 'num st-5 uo', text: r.uo, title: 'the upstream ' + (r.uo === 'no answer' ?
        'gave no answer' : r.uo) + '; nginx logged $upstream_status ' + statusText(r.su) + ' and answered ' +
        statusText(r.sp) + ' itself'});
    }
    return h('td', {'class': 'num ' + statusClass(r.su), text: statusText(r.su)});
  }
  function safeClass(v) { return /^[a-z_]+$/.test(v || '') ? v : 'unknown'; }

  function fillSelect(sel, items, fmt) {
    items.forEach(function (it) { sel.appendChild(new Option(fmt(it), it[0])); });
  }
  function countBy(fn) {
    var m = {};
    rows.forEach(function (r) { var k = fn(r); if (k != null) m[k] = (m[k] || 0) + 1; });
    return Object.keys(m).map(function (k) { return [k, m[k]]; }).sort(function (a, b) { return b[1] - a[1]; });
  }
  function setupFilters() {
    var totals = D.totals.by_verdict;
    var fv = $('f-verdict');
    var failed = 0;
    Object.keys(totals).forEach(function (k) { if (k !== 'ok') failed += totals[k]; });
    fv.appendChild(new Option('any failure (' + fmtInt(failed) + ')', '*failed'));
    fillSelect(fv, VERDICTS.filter(function (v) { return totals[v]; }).map(function (v) { return [v, totals[v]]; }),
      function (it) { return it[0] + ' (' + fmtInt(it[1]) + ')'; });
    fillSelect($('f-cause'), countBy(function (r) { return r.v === 'ok' ? null : r.c; }),
      function (it) { return it[0] + ' (' + fmtInt(it[1]) + ')'; });
    fillSelect($('f-endpoint'), countBy(function (r) { return r.ep; }).slice(0, 300),
      function (it) { return it[0] + ' (' + fmtInt(it[1]) + ')'; });
    var st = {};
    rows.forEach(function (r) {
      [r.sc, r.sp, r.su].forEach(function (v) { if (v != null) st[v] = 1; });
      if (r.sc == null && r.sp == null && r.su == null) st.none = 1;
    });
    Object.keys(st).sort().forEach(function (k) { $('f-status').appendChild(new Option(k === 'none' ? 'no status' : k, k)); });
    [['f-verdict', 'verdict'], ['f-cause', 'cause'], ['f-endpoint', 'endpoint'], ['f-status', 'status']].forEach(function (p) {
      $(p[0]).addEventListener('change', function () { state.f[p[1]] = this.value; state.page = 0; renderTable(); });
    });
    $('f-q').addEventListener('input', function () { state.f.q = this.value.trim(); state.page = 0; renderTable(); });
    $('f-clear').addEventListener('click', function () {
      state.f = {verdict: '', cause: '', endpoint: '', status: '', q: ''};
      state.sort = {key: 't', dir: 1};
      ['f-verdict', 'f-cause', 'f-endpoint', 'f-status', 'f-q'].forEach(function (id) { $(id).value = ''; });
      state.page = 0;
      renderTable();
    });
    document.querySelectorAll('#requests-table th.sortable').forEach(function (th) {
      th.addEventListener('click', function () {
        var k = th.getAttribute('data-key');
        state.sort = {key: k, dir: state.sort.key === k ? -state.sort.dir : 1};
        renderTable();
      });
    });
    $('pg-prev').addEventListener('click', function () { state.page = Math.max(0, state.page - 1); renderTable(); });
    $('pg-next').addEventListener('click', function () { state.page += 1; renderTable(); });
    document.querySelectorAll('.show-cause').forEach(function (b) {
      b.addEventListener('click', function () {
        var c = b.getAttribute('data-cause');
        state.f.cause = c;
        state.f.verdict = '*failed';
        $('f-cause').value = c;
        $('f-verdict').value = '*failed';
        state.page = 0;
        renderTable();
        $('requests').scrollIntoView();
      });
    });
    $('window-apply').addEventListener('click', function () {
      var a = parseTime($('window-from').value), b = parseTime($('window-to').value);
      if (a == null) a = D.from;
      if (b == null) b = D.to;
      if (isNaN(a) || isNaN(b)) { $('window-label').textContent = 'times look like 01:15:02.500 (UTC)'; return; }
      setWindow([a, b]);
    });
    ['window-from', 'window-to'].forEach(function (id) {
      $(id).addEventListener('keydown', function (ev) { if (ev.key === 'Enter') $('window-apply').click(); });
    });
    $('window-reset').addEventListener('click', function () { setWindow(null); });
    $('detail-close').addEventListener('click', function () { state.sel = null; $('detail').hidden = true; renderTable(); });
  }

  // ------------------------------------------------------------------ waterfall
  var HOPS = [
    {key: 'client', label: 'vac — client attempt', short: 'client', sources: ['vac'], span: [0, 1],
      what: 'elapsed (client)'},
    {key: 'proxy', label: 'Nginx — $request_time', short: 'Nginx', sources: ['nginx_access', 'nginx_error'],
      span: [2, 3], what: '$request_time'},
    {key: 'upstream', label: 'CRM — $upstream_response_time', short: 'CRM', sources: ['crm'], span: [4, 5],
      what: '$upstream_response_time'}
  ];
  function hopOf(source) {
    for (var i = 0; i < HOPS.length; i++) if (HOPS[i].sources.indexOf(source) >= 0) return i;
    return HOPS.length - 1;
  }
  function wholeSecond(e) { return (e[1] != null && /^nginx/.test(str(e[1]) || '')) && ((BASE + e[4]) % 1000 === 0); }

  function select(r, fromHash) {
    state.sel = r;
    if (!fromHash && window.history && history.replaceState) {
      try { history.replaceState(null, '', '#attempt-' + r.aid); } catch (err) { /* a file: URL may refuse */ }
    }
    document.querySelectorAll('#requests-table tbody tr').forEach(function (tr) {
      tr.classList.toggle('selected', tr.getAttribute('data-aid') === String(r.aid));
    });
    var panel = $('detail');
    panel.hidden = false;
    panel.setAttribute('data-aid', String(r.aid));
    $('detail-title').textContent = (r.m || '?') + ' ' + (r.p || '?');
    var sum = clear($('detail-summary'));
    var kv = h('div', {'class': 'kv'});
    function item(k, v) { if (v != null && v !== '') kv.appendChild(h('div', null, [h('b', {text: k}), String(v)])); }
    item('request', (r.id || '(no id)') + '  attempt ' + (r.a == null ? '?' : r.a) + (r.la ? ' (last)' : ''));
    item('time', both(r.t));
    item('verdict', r.v + ' — ' + (r.vr || ''));
    item('root cause', r.v === 'ok' ? 'none' : r.c + (r.d ? ' (' + r.d + ')' : '') + (r.rl ? '  rule ' + r.rl : ''));
    item('linked by', (r.lk || '?') + (r.cf != null ? ', confidence ' + Number(r.cf).toFixed(2) : ''));
    item('client', 'status ' + statusText(r.sc) + (r.ce ? ', error ' + r.ce : '') + (r.el != null ? ', ' + fmtDur(r.el) : ''));
    item('proxy', 'status ' + statusText(r.sp) + (r.rt != null ? ', $request_time ' + fmtDur(r.rt * 1000) : '') +
      (r.cn != null ? ', connection ' + r.cn : '') + (r.ca ? ', client ' + r.ca : ''));
    item('upstream', (r.uo ? r.uo + ' (nginx logged $upstream_status ' + statusText(r.su) + ')' :
      'status ' + statusText(r.su)) + (r.ua ? ' from ' + r.ua : '') +
      (r.urt != null ? ', $upstream_response_time ' + fmtDur(r.urt * 1000) : ''));
    item('user agent', r.ag);
    sum.appendChild(kv);
    drawWaterfall(r);
    drawEvidence(r);
    var others = (byLogical[r.lid] || []).filter(function (o) { return o !== r; });
    var box = clear($('detail-attempts'));
    if (others.length) {
      box.appendChild(h('h4', {text: 'Other attempts of this request'}));
      var p = h('div', {'class': 'attempt-links'});
      others.forEach(function (o) {
        var b = h('button', {type: 'button', text: '#' + o.a + ' ' + utc(o.t, true) + ' ' + o.v});
        b.addEventListener('click', function () { select(o); });
        p.appendChild(b);
      });
      box.appendChild(p);
    }
    panel.scrollIntoView({block: fromHash ? 'start' : 'nearest'});
  }

  // deep links: #attempt-N opens attempt N; #request=ID opens that request's last attempt
  function fromHash() {
    var hash = decodeURIComponent((location.hash || '').slice(1));
    var m = /^attempt-(\d+)$/.exec(hash), found = null;
    if (m) found = rows.filter(function (r) { return String(r.aid) === m[1]; })[0];
    m = /^request=(.+)$/.exec(hash);
    if (m) {
      var mine = rows.filter(function (r) { return r.id === m[1] || r.lid === m[1]; });
      mine.sort(function (a, b) { return (a.a || 0) - (b.a || 0); });
      found = mine[mine.length - 1];
    }
    if (found) select(found, true);
    return !!found;
  }

  function drawWaterfall(r) {
    var host = clear($('waterfall'));
    var W = width(host);
    var x = r.x || [null, null, null, null, null, null];
    var ts = [];
    x.forEach(function (v) { if (v != null) ts.push(v); });
    (r.ev || []).forEach(function (e) { if (e[4] != null && !wholeSecond(e)) ts.push(e[4]); });
    if (!ts.length && r.t != null) ts.push(r.t);
    var lo = Math.min.apply(null, ts), hi = Math.max.apply(null, ts);
    var span = Math.max(hi - lo, 1);
    var d0 = lo - span * 0.06, d1 = hi + span * 0.14;
    var L = W < 600 ? 112 : 230, Rm = 16, RH = 30, TOP = 26;
    var H = TOP + HOPS.length * RH + 10;
    var k = (W - L - Rm) / (d1 - d0);
    function X(t) { return L + (Math.min(Math.max(t, d0), d1) - d0) * k; }
    var svgEl = s('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Hop chain'});
    var step = tickStep(d1 - d0, 6);
    var ax = s('g', {'class': 'axis'});
    for (var t = lo; t <= d1; t += step) {
      var xx = X(t);
      ax.appendChild(s('line', {x1: xx, x2: xx, y1: TOP - 6, y2: H, 'class': 'grid'}));
      ax.appendChild(s('text', {x: xx, y: 12, 'text-anchor': 'middle', text: '+' + fmtDur(t - lo)}));
    }
    ax.appendChild(s('text', {x: 6, y: 12, text: W < 600 ? utc(lo, true) : 'from ' + utc(lo, true) + ' UTC'}));
    svgEl.appendChild(ax);
    var died = diedAt(r);
    HOPS.forEach(function (hop, hi2) {
      var y = TOP + hi2 * RH;
      svgEl.appendChild(s('rect', {x: 0, y: y, width: W, height: RH - 4, 'class': 'wf-row' + (hi2 % 2 ? ' odd' : '')}));
      svgEl.appendChild(s('text', {x: 6, y: y + (died === hi2 ? 11 : 17), 'class': 'lane-label',
        text: W < 600 ? hop.short : hop.label}));
      var a = x[hop.span[0]], b = x[hop.span[1]];
      // the hop where the attempt died is drawn as such (never as a healthy bar); hops past it never served it
      var fate = died == null ? '' : hi2 === died ? ' wf-died' : hi2 > died ? ' wf-never' : '';
      if (a != null && b != null) {
        var x0 = X(a), x1 = X(b);
        var dur = b - a;
        var rect = s('rect', {x: x0, y: y + 5, width: Math.max(x1 - x0, 2), height: RH - 14,
          'class': 'wf-span wf-' + hop.key + fate, 'data-hop': hop.key});
        svgEl.appendChild(tip(rect, hop.what + ': ' + fmtDur(dur) + ' (' + utc(a, true) + ' – ' + utc(b, true) + ' UTC)'));
        svgEl.appendChild(s('text', {x: Math.max(x0, x1) + 5, y: y + 17, 'class': 'wf-dur', text: fmtDur(dur)}));
      } else {
        svgEl.appendChild(s('text', {x: L + 4, y: y + 17, 'class': 'lane-sub', text: 'no ' + hop.key + ' span'}));
      }
      if (died === hi2) {
        svgEl.appendChild(tip(s('text', {x: 6, y: y + 23, 'class': 'wf-died-label',
          'data-died': hop.key, text: '✕ died here'}), r.v + ': ' + ((VOCAB[r.v] || {}).gloss || '')));
      }
    });
    mergedEvidence(r).forEach(function (e, ix) {
      var hop = hopOf(str(e[1]));
      var y = TOP + hop * RH + (RH - 4) / 2;
      var approx = wholeSecond(e);
      var at = e[4];
      if (approx && x[3] != null && at <= x[3] && x[3] < at + 1000) at = x[3];
      if (at == null) return;
      var cx = X(at);
      var m = s('path', {d: 'M' + cx + ' ' + (y - 7) + 'l6 7l-6 7l-6 -7z', 'class': 'wf-marker ' +
        (e[0] ? 'cause' : 'verdict') + (approx ? ' approx' : ''), 'data-ev': ix});
      var firstLine = e[7] && e[7] !== -1 ? str(e[7][0]) : '';
      tip(m, (e[0] ? 'cause' : 'verdict') + ' line ' + (str(e[2]) || '') + ':' + e[3] + ' at ' + utc(e[4], true) +
        ' UTC' + (approx ? ' (logged to the whole second; drawn at the end of the proxy span)' : '') + '\n' + firstLine);
      svgEl.appendChild(m);
    });
    host.appendChild(svgEl);
    var leg = clear($('waterfall-legend'));
    [['wf-client', 'client attempt (vac)'], ['wf-proxy', 'Nginx $request_time'],
      ['wf-upstream', 'CRM $upstream_response_time'], ['wf-died', 'the hop where it died'],
      ['wf-never', 'a hop past it (never served it)']].forEach(function (k) {
      var sv = s('svg', {width: 14, height: 10});
      sv.appendChild(s('rect', {x: 0, y: 0, width: 14, height: 10, 'class': 'wf-span ' + k[0]}));
      leg.appendChild(h('span', null, [sv, ' ' + k[1]]));
    });
    [['cause', 'a line that names the cause'], ['verdict', 'a line that gives the verdict'],
      ['approx', 'logged to the whole second (placed at the end of the proxy span)']].forEach(function (k) {
      var sv = s('svg', {width: 14, height: 14});
      sv.appendChild(s('path', {d: 'M7 0l6 7l-6 7l-6 -7z', 'class': 'wf-marker ' + (k[0] === 'approx' ? 'verdict approx' : k[0])}));
      leg.appendChild(h('span', null, [sv, ' ' + k[1]]));
    });
  }

  function diedAt(r) {
    // the hop index (client, proxy, upstream) of the verdict's place, from the vocabulary; null if it did not die
    var v = VOCAB[r.v];
    if (r.v === 'ok' || !v || v.failed === false) return null;
    var place = v.place || '';
    if (/client/.test(place)) return 0;
    if (/proxy/.test(place)) return 1;
    if (/upstream/.test(place)) return 2;
    return null;
  }

  function mergedEvidence(r) {
    // a line that is both verdict and cause evidence is listed once, as cause
    var seen = {}, out = [];
    (r.ev || []).forEach(function (e) {
      var key = e[2] + ':' + e[3];
      if (seen[key]) { if (e[0]) seen[key][0] = 1; return; }
      seen[key] = e.slice();
      out.push(seen[key]);
    });
    return out;
  }

  function drawEvidence(r) {
    var box = clear($('detail-evidence'));
    var ev = mergedEvidence(r);
    box.appendChild(h('h4', {text: 'Log lines linked to this attempt (' + ev.length + ')'}));
    if (!ev.length) { box.appendChild(h('p', {'class': 'muted', text: 'No lines.'})); return; }
    var table = h('table', {'class': 'ev-table'});
    var heads = ['time (UTC)', 'source', 'file:line', 'role', 'linked by'];
    table.appendChild(h('thead', null, [h('tr', null, heads.map(function (x) { return h('th', {text: x}); }))]));
    var tb = h('tbody');
    ev.slice().sort(function (a, b) { return (a[4] || 0) - (b[4] || 0); }).forEach(function (e) {
      var tr = h('tr', {'class': e[0] ? 'cause' : 'verdict'});
      [[e[4] == null ? '–' : utc(e[4], true), 'mono'], [D.sources[str(e[1])] || str(e[1]) || ''],
        [(str(e[2]) || '?') + ':' + e[3], 'mono fileline'], [e[0] ? 'cause' : 'verdict'],
        [(str(e[5]) || '?') + (e[6] != null ? ' (' + Number(e[6]).toFixed(2) + ')' : '')]].forEach(function (c, i) {
        // the header's word inside each cell: shown on a narrow screen, where the rows stack and the header is hidden
        tr.appendChild(h('td', c[1] ? {'class': c[1]} : null, [h('span', {'class': 'ev-label', text: heads[i] + ' '}),
          c[0]]));
      });
      tb.appendChild(tr);
      var text, context = null;
      if (e[7] === -1) text = null;
      else if (e[7]) {
        var lines = e[7].map(str), n = e[8] == null ? lines.length : e[8];
        text = lines.slice(0, n).join('\n');
        context = lines.slice(n).join('\n').replace(/\n+$/, '');
      }
      var cell = h('td', {colspan: 5});
      if (text != null) cell.appendChild(h('pre', {'class': 'logtext cited', text: text}));
      if (context) {
        var k = context.split('\n').length;
        cell.appendChild(h('details', {'class': 'context'}, [
          h('summary', {text: k + ' line' + (k === 1 ? '' : 's') + ' read after it — context, not evidence ' +
            '(may be another request\'s)'}),
          h('pre', {'class': 'logtext ctx', text: context})]));
      }
      if (text == null) cell.appendChild(h('span', {'class': 'muted', text: e[7] === -1 ?
        'text not embedded in this page (see the JSON export)' : 'text kept for failed attempts only'}));
      tb.appendChild(h('tr', {'class': 'ev-text'}, [cell]));
    });
    table.appendChild(tb);
    box.appendChild(h('div', {'class': 'table-wrap'}, [table]));
  }

  // ------------------------------------------------------------------ start
  setupFilters();
  if (ANY_FAILED) $('f-verdict').value = '*failed';
  setWindow(null);
  fromHash();
  window.addEventListener('hashchange', fromHash);
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { drawTimeline(); drawOverTime(); if (state.sel) drawWaterfall(state.sel); }, 150);
  });
  var opened = [];
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details:not([open])').forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener('afterprint', function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
  document.body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  document.body.setAttribute('data-ready', '1');
})();
