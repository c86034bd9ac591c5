// GET /status as a page (Accept: text/html): one self-contained document, its style and
// script inline under the response's CSP nonce, nothing loaded from anywhere but this
// service (images, /status, the job's event stream).
import type { StatusBody } from '../routes/status.ts';
import { CLIENT_SCRIPT } from './client-script.ts';
import { html, rawText } from './html.ts';
import { ICON_PATH } from './icon.ts';
import { headerSection, jobSection, limitsSection, ownershipSection, recentSection, systemSection, thumbnailsSection, warningsSection } from './sections.ts';
import { STYLE } from './style.ts';

export function renderStatusPage(body: StatusBody, nonce: string): string {
  const jobId = body.job?.id ?? '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="${ICON_PATH}" type="image/svg+xml">
<title>${jobId === '' ? 'idle' : `running ${jobId}`} · agent-cockpit</title>
<style nonce="${nonce}">${rawText(STYLE)}</style>
</head>
<body>
<main id="status" data-job-id="${jobId}">
${headerSection(body)}
<p id="updated" class="meta">rendered ${new Date().toISOString().slice(11, 19)} UTC</p>
${warningsSection(body)}
${jobSection(body)}
${thumbnailsSection(body)}
${recentSection(body)}
<div class="columns">
${limitsSection(body)}
${systemSection(body)}
${ownershipSection(body)}
</div>
</main>
<script nonce="${nonce}">${rawText(CLIENT_SCRIPT)}</script>
</body>
</html>
`.markup;
}
