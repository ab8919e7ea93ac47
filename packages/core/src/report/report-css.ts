/** The report's whole stylesheet, inlined in its `<style>`: system fonts, light and dark schemes. */
export const REPORT_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1b1f24; --dim: #5b6570; --card: #fff; --line: #dde1e6; --media: #eceff3;
  --real: #1a7f37; --placeholder: #9a6700; --moderated: #b42318; --unused: #57606a; --corrupt: #8250df;
  --missing: #0969da;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --fg: #e6e9ed; --dim: #98a2ad; --card: #181c22; --line: #2c333b; --media: #21262d;
    --real: #3fb950; --placeholder: #d29922; --moderated: #f85149; --unused: #8b949e; --corrupt: #a371f7;
    --missing: #58a6ff;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main { max-width: 1400px; margin: 0 auto; padding: 1.25rem 1.5rem; }
header { padding-bottom: 0.5rem; }
h1 { margin: 0 0 0.25rem; font-size: 1.5rem; }
h1 .project { color: var(--dim); font-weight: 500; }
h2 { margin: 1.5rem 0 0.25rem; font-size: 1.2rem; }
h2 .n, .dim { color: var(--dim); }
.meta, .note { color: var(--dim); margin: 0.25rem 0 0.75rem; }
code { font: 0.85em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
a { color: inherit; }
.counts { display: flex; flex-wrap: wrap; gap: 0.5rem; list-style: none; margin: 0.5rem 0; padding: 0; }
.count a { display: inline-block; padding: 0.35rem 0.8rem; border: 1px solid var(--line); border-left: 4px solid var(--c); border-radius: 6px; background: var(--card); text-decoration: none; }
.count .n { font-weight: 700; font-size: 1.1em; }
.status-real { --c: var(--real); } .status-placeholder { --c: var(--placeholder); }
.status-moderated { --c: var(--moderated); } .status-unused { --c: var(--unused); }
.status-corrupt { --c: var(--corrupt); } .status-missing { --c: var(--missing); }
.problems { border: 1px solid var(--moderated); border-radius: 6px; padding: 0.25rem 1rem; margin: 0.75rem 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 300px), 1fr)); gap: 1rem; }
.card { display: flex; flex-direction: column; background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--c); border-radius: 8px; overflow: hidden; }
.card.status-unused .media { opacity: 0.75; }
.media { display: flex; align-items: center; justify-content: center; min-height: 160px; background: var(--media); }
.media img { display: block; max-width: 100%; height: auto; }
.refusal { padding: 1rem; color: var(--moderated); }
.refusal p { margin: 0.4rem 0 0; color: var(--fg); white-space: pre-wrap; overflow-wrap: anywhere; }
.no-preview { color: var(--dim); }
.body { padding: 0.6rem 0.9rem 0.9rem; }
.badges { margin: 0 0 0.4rem; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; border: 1px solid var(--c, var(--line)); color: var(--c, var(--dim)); font-size: 0.8rem; font-weight: 600; }
.prompt { margin: 0 0 0.5rem; font-weight: 600; white-space: pre-wrap; overflow-wrap: anywhere; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.problem { margin: 0 0 0.5rem; color: var(--moderated); }
dl { margin: 0; font-size: 0.88rem; }
.row { display: grid; grid-template-columns: 4.6rem 1fr; gap: 0.5rem; padding: 0.2rem 0; border-top: 1px solid var(--line); }
dt { color: var(--dim); }
dd { margin: 0; min-width: 0; }
.mismatch { color: var(--moderated); font-weight: 600; }
.usage { list-style: none; margin: 0; padding: 0; }
.candidates { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem; }
.candidate { display: grid; gap: 0.15rem; font-size: 0.8rem; color: var(--dim); }
.candidate.shown { color: inherit; font-weight: 600; }
.candidate.shown img { outline: 2px solid currentColor; }
.missing { list-style: none; padding: 0; display: grid; gap: 0.5rem; }
.missing > li { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--missing); border-radius: 6px; padding: 0.5rem 0.9rem; }
.missing p { margin: 0 0 0.25rem; }
.empty { color: var(--dim); }
`
