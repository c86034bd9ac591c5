// The status page's sections, each rendered from the /status body (routes/status.ts) and
// nothing else. Sections marked data-refresh are swapped in whole by the page's script
// from a fresh GET /status; the running job's section is kept and fed by its events.
import type { StatusBody } from '../routes/status.ts';
import { formatBytes, formatCost, formatDuration, formatPercent, formatTime } from './format.ts';
import { html, type SafeHtml } from './html.ts';

type Supervisor = StatusBody['supervisor'];
type Ownership = NonNullable<Supervisor['ownership']>;

function yesNo(value: boolean | null | undefined): string {
  return value === null || value === undefined ? '–' : value ? 'yes' : 'no';
}

function row(label: string, value: SafeHtml | string | number, id?: string): SafeHtml {
  return html`<tr><th scope="row">${label}</th><td${id === undefined ? '' : html` id="${id}"`}>${value}</td></tr>`;
}

/** Everything an operator should act on: the supervisor's warnings and what the API sees. */
export function warningsOf(body: StatusBody): string[] {
  const out: string[] = [];
  const s = body.supervisor;
  if (!s.reachable) out.push('The supervisor is not reachable: no job can start (the API retries on every request).');
  if (s.shuttingDown === true) out.push('The supervisor is shutting down.');
  if (s.store !== null && !s.store.writable) out.push(`The job store cannot record new jobs${s.store.error === null ? '' : `: ${s.store.error}`}.`);
  if (body.system.protectedHardlinks === false) out.push('fs.protected_hardlinks is off: an agent could link other users\u2019 files into IMAGES_DIR.');
  out.push(...s.warnings);
  return out;
}

export function headerSection(body: StatusBody): SafeHtml {
  const s = body.supervisor;
  const sup = s.reachable
    ? html`supervisor ${s.version} · pid ${s.pid}${s.pid1 ? ' (PID 1)' : ''} · up ${formatDuration(s.uptimeMs)}`
    : html`<strong class="bad">supervisor unreachable</strong>`;
  return html`<header id="top" data-refresh><h1>agent-cockpit</h1><p class="meta">api ${body.api.version} · pid ${body.api.pid} · up ${formatDuration(body.api.uptimeMs)} · ${sup} · metrics ${body.api.metrics === null ? 'off' : `on ${body.api.metrics.host}:${body.api.metrics.port}`}</p></header>`;
}

export function warningsSection(body: StatusBody): SafeHtml {
  const list = warningsOf(body);
  if (list.length === 0) return html`<section id="warnings" data-refresh class="empty"></section>`;
  return html`<section id="warnings" data-refresh class="warnings" role="alert"><h2>Warnings</h2><ul>${list.map((w) => html`<li>${w}</li>`)}</ul></section>`;
}

function chart(id: string, title: string, maxLabel: string): SafeHtml {
  // The script draws the line from the job's usage events; the grid is static.
  return html`<figure class="chart"><figcaption>${title} <span class="axis">(top: <span id="${id}-max">${maxLabel}</span>, <span id="${id}-span">10 s</span> wide)</span></figcaption><svg id="${id}" class="plot" viewBox="0 0 600 120" preserveAspectRatio="none" data-points="0" role="img" aria-label="${title} over time"><line class="grid" x1="0" y1="30" x2="600" y2="30"/><line class="grid" x1="0" y1="60" x2="600" y2="60"/><line class="grid" x1="0" y1="90" x2="600" y2="90"/><polyline class="line" points="" vector-effect="non-scaling-stroke"/></svg></figure>`;
}

export function jobSection(body: StatusBody): SafeHtml {
  const job = body.job;
  if (job === null) return html`<section id="job" data-job-id=""><h2>Running job</h2><p class="idle">No job running.</p></section>`;
  const p = job.progress;
  const limit = body.limits?.memoryLimitBytes;
  return html`<section id="job" data-job-id="${job.id}" data-elapsed-ms="${job.elapsedMs}" data-peak-rss-bytes="${job.peakRssBytes}" data-sample-interval-ms="${body.limits?.sampleIntervalMs ?? 1000}">
<h2>Running job <code id="job-id">${job.id}</code> <span id="job-state" class="state">running</span></h2>
<table class="facts">
${row('elapsed', formatDuration(job.elapsedMs), 'job-elapsed')}
${row('started', formatTime(job.startedAt))}
${row('turn', p.turns, 'job-turn')}
${row('tool', html`<span id="job-tool">${p.tool ?? '–'}</span> <span id="job-tool-desc" class="desc">${p.toolDescription ?? ''}</span>`)}
${row('RSS now / peak', html`<span id="job-rss">${formatBytes(job.rssBytes)}</span> / <span id="job-peak">${formatBytes(job.peakRssBytes)}</span>${limit === undefined ? '' : html` <span class="desc">(limit ${formatBytes(limit)})</span>`}`)}
${row('CPU', formatPercent(job.cpuPercent), 'job-cpu')}
${row('processes', job.processCount, 'job-procs')}
${row('pid', job.pid ?? '–')}
${row('prompt', `${job.promptChars} characters`)}
</table>
<div class="charts">${chart('chart-rss', 'RSS', formatBytes(Math.max(job.peakRssBytes, 1024 * 1024)))}${chart('chart-cpu', 'CPU (100 % = one core)', '100 %')}</div>
</section>`;
}

export function thumbnailsSection(body: StatusBody): SafeHtml {
  const latest = body.images.latest;
  const figures = latest.map(
    (i) => html`<figure class="thumb" data-url="${i.url}"><a href="${i.url}"><img src="${i.url}" alt="${i.name}"></a><figcaption>${i.name}<br><span class="desc">${formatTime(i.modifiedAt)}</span></figcaption></figure>`,
  );
  return html`<section id="thumbs" data-refresh><h2>Latest screenshots</h2>${latest.length === 0 ? html`<p class="idle">No images in IMAGES_DIR.</p>` : ''}<div id="thumb-list" class="thumbs">${figures}</div></section>`;
}

export function recentSection(body: StatusBody): SafeHtml {
  const rows = body.recentJobs.map(
    (j) =>
      html`<tr><td><code>${j.id}</code></td><td>${formatTime(j.startedAt)}</td><td class="${j.outcome === 'ok' ? 'ok' : 'bad'}">${j.outcome}</td><td class="num">${formatDuration(j.durationMs)}</td><td class="num">${formatBytes(j.peakRssBytes)}</td><td class="num${j.leftoversKilled > 0 ? ' bad' : ''}">${j.leftoversKilled}</td><td class="num">${formatCost(j.costUsd)}</td><td class="num">${j.images.length}</td></tr>`,
  );
  const table = html`<table class="list"><thead><tr><th>job</th><th>started</th><th>outcome</th><th>duration</th><th>peak RSS</th><th>leftovers killed</th><th>cost</th><th>images</th></tr></thead><tbody>${rows}</tbody></table>`;
  return html`<section id="recent" data-refresh><h2>Recent jobs</h2>${rows.length === 0 ? html`<p class="idle">None yet.</p>` : table}</section>`;
}

export function limitsSection(body: StatusBody): SafeHtml {
  const l = body.limits;
  if (l === null) return html`<section id="limits" data-refresh><h2>Limits</h2><p class="idle">Unknown (the supervisor is not reachable).</p></section>`;
  return html`<section id="limits" data-refresh><h2>Limits</h2><table class="facts">
${row('timeout', formatDuration(l.timeoutMs))}
${row('memory', formatBytes(l.memoryLimitBytes))}
${row('output', formatBytes(l.maxOutputBytes))}
${row('turns', l.maxTurns ?? 'no limit')}
${row('budget', l.maxBudgetUsd === null ? 'no limit' : formatCost(l.maxBudgetUsd))}
${row('kill grace', formatDuration(l.killGraceMs))}
${row('interrupt grace', formatDuration(l.interruptGraceMs))}
${row('sample interval', formatDuration(l.sampleIntervalMs))}
</table></section>`;
}

function disk(label: string, d: StatusBody['system']['disks']['images']): SafeHtml {
  if (d.totalBytes === null || d.freeBytes === null) return row(label, html`<span class="desc">${d.path}</span> unknown`);
  return row(
    label,
    html`<meter min="0" max="${d.totalBytes}" value="${d.totalBytes - d.freeBytes}" high="${d.totalBytes * 0.9}"></meter> ${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)} <span class="desc">${d.path}</span>`,
  );
}

export function systemSection(body: StatusBody): SafeHtml {
  const sys = body.system;
  const m = sys.memory;
  const store = body.supervisor.store;
  return html`<section id="system" data-refresh><h2>Machine</h2><table class="facts">
${row('memory', html`<meter min="0" max="${m.totalBytes}" value="${m.totalBytes - m.availableBytes}" high="${m.totalBytes * 0.9}"></meter> ${formatBytes(m.availableBytes)} available of ${formatBytes(m.totalBytes)}`)}
${disk('disk (images)', sys.disks.images)}
${disk('disk (workspace)', sys.disks.workspace)}
${row('load', `${sys.loadAverage.join(' · ')} (${sys.cpus} CPUs)`)}
${row('images', html`${body.images.count} files, ${formatBytes(body.images.bytes)}${body.images.capped ? ' (more than the index holds)' : ''} <span class="desc">${body.images.dir}</span>`)}
${store === null ? '' : row('job store', html`${store.jobs} jobs, ${formatBytes(store.bytes)}${store.unsaved > 0 ? html` <strong class="bad">${store.unsaved} unsaved</strong>` : ''} <span class="desc">${store.path}</span>`)}
${row('zombies', body.supervisor.zombies ?? '–')}
${row('sampled', formatTime(sys.sampledAt))}
</table></section>`;
}

const LAYERS: Array<{ label: string; on: (o: Ownership) => boolean; says: (o: Ownership) => string }> = [
  { label: 'dedicated agent user', on: (o) => o.agentUid !== null, says: (o) => (o.agentUid === null ? 'not in use' : `uid ${o.agentUid}: every process of it is the job\u2019s or a leftover`) },
  { label: 'per-job subreaper', on: (o) => o.subreaper, says: (o) => (o.subreaper ? 'keeps every orphan of the job in its tree' : 'not in use') },
  { label: 'per-job cgroup', on: (o) => o.cgroup !== null, says: (o) => o.cgroup ?? 'not in use' },
  { label: 'environ marker', on: (o) => o.environ, says: (o) => (o.environ ? 'readable in /proc/PID/environ of the agent\u2019s processes' : 'not readable') },
];

export function ownershipSection(body: StatusBody): SafeHtml {
  const o = body.supervisor.ownership;
  if (o === null) return html`<section id="ownership" data-refresh><h2>Ownership layers</h2><p class="idle">Unknown (the supervisor is not reachable).</p></section>`;
  const cgroup = body.supervisor.cgroup;
  return html`<section id="ownership" data-refresh><h2>Ownership layers</h2>
<p class="${o.contained ? 'ok' : 'bad'}"><strong>${o.contained ? 'Contained: no process of a job can outlive it here.' : 'Not contained: a process of a job may outlive it.'}</strong></p>
<table class="facts">${LAYERS.map((l) => row(l.label, html`<span class="${l.on(o) ? 'ok' : 'off'}">${l.on(o) ? '✓' : '✗'}</span> ${l.says(o)}`))}
${cgroup === null ? '' : row('cgroups', html`${yesNo(cgroup.enabled)}${cgroup.join == null ? '' : html`, the CLI ${cgroup.join === 'clone3' ? 'born in its group (clone3)' : 'moved in after its fork'}`} <span class="desc">${cgroup.path ?? ''}</span>`)}
</table></section>`;
}
