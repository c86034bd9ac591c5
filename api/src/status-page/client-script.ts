// The status page's one script (inline, under the CSP nonce), plain ES2017 for any current
// browser. It keeps the page current:
// - a running job: an EventSource on /jobs/:id/events, which replays the job's events
//   from its start, so the RSS and CPU charts have the whole history; `progress` updates
//   turn and tool, `image` adds a thumbnail, `end` shows the outcome;
// - everything else: every POLL_MS it fetches /status as HTML (the same renderer, so one
//   source) and swaps in the sections that changed; a different running job (one started,
//   or the one shown ended) reloads the page.
// It never puts text into markup: textContent and attributes only. It is a string (not a
// function's source) because tsx and esbuild may wrap functions in helpers the browser
// lacks; test/api/status-page-render.test.ts parses it, the browser test runs it.
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var POLL_MS = 3000;
  var MAX_POINTS = 1200;
  var MAX_THUMBS = 8;
  var main = document.getElementById('status');
  var jobId = main.getAttribute('data-job-id') || '';

  function byId(id) { return document.getElementById(id); }
  function setText(id, text) { var el = byId(id); if (el !== null) el.textContent = text; }
  function bytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var v = n, u = 0;
    while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
    return (u === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + units[u];
  }
  function duration(ms) {
    if (ms < 1000) return Math.round(ms) + ' ms';
    var s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
    var t = Math.floor(s), h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60);
    return h > 0 ? h + ' h ' + m + ' min' : m + ' min ' + (t % 60) + ' s';
  }
  function percent(v) { return v.toFixed(v < 10 ? 1 : 0) + ' %'; }
  function clock() { return new Date().toISOString().slice(11, 19) + ' UTC'; }

  // ---- the rest of the page: a fresh render every POLL_MS ----
  var lastOk = clock();
  var inflight = false;
  var live = false;
  var ended = false;
  var streamDone = false;
  var waited = 0;
  function poll() {
    if (inflight || document.hidden) return;
    inflight = true;
    fetch('/status', { headers: { accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) throw new Error('GET /status answered ' + res.status);
        return res.text();
      })
      .then(function (text) {
        // Only its main element: a parsed style element whose nonce is not this page's is a CSP
        // violation even in a parsed document. Every value in it is escaped, so the
        // first '<main' and the first end tag after it are the renderer's own.
        var from = text.indexOf('<main'), to = from === -1 ? -1 : text.indexOf('</main>', from);
        if (to === -1) throw new Error('no status in the answer');
        var next = new DOMParser().parseFromString(text.slice(from, to + 7), 'text/html').getElementById('status');
        if (next === null) throw new Error('no status in the answer');
        if ((next.getAttribute('data-job-id') || '') !== jobId) {
          // The job shown has ended (or another began): reload once its stream is over
          // (a stream cut by the reload would be a failed request), or after a few tries.
          if (live && !streamDone && (waited += 1) < 4) return;
          location.reload();
          return;
        }
        var fresh = next.querySelectorAll('[data-refresh]');
        for (var i = 0; i < fresh.length; i++) {
          var old = byId(fresh[i].id);
          if (old !== null && old.outerHTML !== fresh[i].outerHTML) old.replaceWith(document.adoptNode(fresh[i]));
        }
        lastOk = clock();
        var u = byId('updated');
        u.textContent = 'updated ' + lastOk;
        u.classList.remove('stale');
      })
      .catch(function (err) {
        var u = byId('updated');
        u.textContent = 'not updated since ' + lastOk + ' (' + err.message + ')';
        u.classList.add('stale');
      })
      .then(function () { inflight = false; });
  }
  setInterval(poll, POLL_MS);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) poll(); });

  if (jobId === '') return;

  // ---- the running job, live from its events ----
  var section = byId('job');
  var startedAt = Date.now() - Number(section.getAttribute('data-elapsed-ms') || 0);
  var intervalMs = Number(section.getAttribute('data-sample-interval-ms') || 1000);
  var peak = Number(section.getAttribute('data-peak-rss-bytes') || 0);
  var points = [];
  var drawPending = false;
  live = true;
  var tick = setInterval(function () { setText('job-elapsed', duration(Date.now() - startedAt)); }, 1000);

  function plot(svgId, values, top, tMax) {
    var svg = byId(svgId);
    var line = svg.querySelector('polyline');
    var coords = [];
    for (var i = 0; i < points.length; i++) {
      var x = (points[i].t / tMax) * 600;
      var y = 118 - Math.min(1, values[i] / top) * 116;
      coords.push(x.toFixed(1) + ',' + y.toFixed(1));
    }
    line.setAttribute('points', coords.join(' '));
    svg.setAttribute('data-points', String(points.length));
  }
  function draw() {
    drawPending = false;
    var last = points.length > 0 ? points[points.length - 1].t : 0;
    var tMax = Math.max(10000, last * 1.1);
    var rss = points.map(function (p) { return p.rss; });
    var cpu = points.map(function (p) { return p.cpu; });
    var rssTop = Math.max(1024 * 1024, Math.max.apply(null, rss.concat([0])) * 1.25);
    var cpuTop = Math.max(100, Math.max.apply(null, cpu.concat([0])) * 1.1);
    plot('chart-rss', rss, rssTop, tMax);
    plot('chart-cpu', cpu, cpuTop, tMax);
    setText('chart-rss-max', bytes(rssTop));
    setText('chart-cpu-max', percent(cpuTop));
    setText('chart-rss-span', duration(tMax));
    setText('chart-cpu-span', duration(tMax));
  }
  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(draw);
  }
  function addThumb(url, name) {
    if (url.indexOf('/images/') !== 0) return;
    var list = byId('thumb-list');
    if (list === null) return;
    var have = list.querySelectorAll('figure');
    for (var i = 0; i < have.length; i++) if (have[i].getAttribute('data-url') === url) return;
    var fig = document.createElement('figure');
    fig.className = 'thumb';
    fig.setAttribute('data-url', url);
    var a = document.createElement('a');
    a.href = url;
    var img = document.createElement('img');
    img.src = url;
    img.alt = name;
    a.appendChild(img);
    var cap = document.createElement('figcaption');
    cap.textContent = name;
    fig.appendChild(a);
    fig.appendChild(cap);
    list.insertBefore(fig, list.firstChild);
    while (list.children.length > MAX_THUMBS) list.removeChild(list.lastChild);
  }

  var events = new EventSource('/jobs/' + encodeURIComponent(jobId) + '/events');
  // Closed once the server has ended the stream after 'end' (the 'error' an EventSource
  // fires then, before it would reconnect): closing at 'end' itself could cut the
  // response's last bytes, a failed request.
  function closeStream() {
    if (streamDone) return;
    streamDone = true;
    events.close();
    setTimeout(poll, 300);
  }
  events.onopen = function () { if (!ended) setText('job-state', 'running · live'); };
  events.onerror = function () {
    if (ended) closeStream();
    else setText('job-state', 'reconnecting to its events…');
  };
  events.addEventListener('usage', function (e) {
    var d = JSON.parse(e.data);
    var t = typeof d.elapsedMs === 'number' ? d.elapsedMs : points.length > 0 ? points[points.length - 1].t + intervalMs : 0;
    points.push({ t: t, rss: d.rssBytes, cpu: d.cpuPercent });
    if (points.length > MAX_POINTS) points = points.filter(function (_, i) { return i % 2 === 0; });
    peak = Math.max(peak, d.rssBytes);
    setText('job-rss', bytes(d.rssBytes));
    setText('job-peak', bytes(peak));
    setText('job-cpu', percent(d.cpuPercent));
    setText('job-procs', String(d.processCount));
    scheduleDraw();
  });
  events.addEventListener('progress', function (e) {
    var d = JSON.parse(e.data);
    setText('job-turn', String(d.turn));
    setText('job-tool', d.tool === null ? '–' : d.tool);
    setText('job-tool-desc', d.description === null ? '' : d.description);
  });
  events.addEventListener('image', function (e) {
    var d = JSON.parse(e.data);
    addThumb(d.url, d.name);
  });
  events.addEventListener('end', function (e) {
    ended = true;
    setTimeout(closeStream, 3000);
    clearInterval(tick);
    var d = JSON.parse(e.data);
    if (typeof d.body.durationMs === 'number') setText('job-elapsed', duration(d.body.durationMs));
    setText('job-state', 'ended: ' + (d.body.error || 'ok') + ' (' + d.status + ')');
  });
})();
`;
