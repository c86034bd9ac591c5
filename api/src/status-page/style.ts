// The status page's stylesheet (inline, under the CSP nonce). Classes only: the CSP
// allows no style attributes.
export const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b636e; --bg: #f7f8fa; --card: #fff; --line: #d8dde3;
  --ok: #1a7f37; --bad: #b42318; --warn-bg: #fff4e5; --warn-line: #f0a500; --rss: #1f6feb; --cpu: #bf5b04; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --muted: #9aa4af; --bg: #0f1216; --card: #181c22; --line: #2c333c;
    --ok: #3fb950; --bad: #f85149; --warn-bg: #3a2a05; --warn-line: #d29922; --rss: #58a6ff; --cpu: #f0883e; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 16px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 8px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 12px 0; }
section.empty { display: none; }
.meta, .desc, .axis { color: var(--muted); }
.meta { margin: 0; font-size: 12px; }
#updated.stale { color: var(--bad); }
.warnings { background: var(--warn-bg); border-color: var(--warn-line); border-width: 2px; }
.warnings ul { margin: 0; padding-left: 20px; font-weight: 600; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .off { color: var(--muted); }
.idle { color: var(--muted); margin: 0; }
.state { font-size: 12px; font-weight: normal; color: var(--muted); margin-left: 8px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; }
.facts th { text-align: left; font-weight: normal; color: var(--muted); padding: 2px 16px 2px 0; vertical-align: top; white-space: nowrap; }
.facts td { padding: 2px 0; overflow-wrap: anywhere; }
.list { width: 100%; }
.list th, .list td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); }
.list th { color: var(--muted); font-weight: normal; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.list th:nth-child(n+4) { text-align: right; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; margin-top: 10px; }
.chart { margin: 0; }
.chart figcaption { font-size: 12px; margin-bottom: 4px; }
.plot { width: 100%; height: 140px; display: block; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
.plot .grid { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
.plot .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
#chart-rss .line { stroke: var(--rss); }
#chart-cpu .line { stroke: var(--cpu); }
.thumbs { display: flex; flex-wrap: wrap; gap: 10px; }
.thumb { margin: 0; width: 180px; }
.thumb img { display: block; width: 180px; height: 120px; object-fit: contain; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; image-rendering: auto; }
.thumb figcaption { font-size: 11px; overflow-wrap: anywhere; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 12px; }
meter { width: 120px; vertical-align: middle; }
`;
