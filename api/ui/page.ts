/**
 * The web view's HTML and CSS, kept as strings in a module so that they travel inside the
 * module graph: `deno bundle`, `deno compile` and deployments carry them without read
 * permissions, `--include` flags or unstable text imports. Nothing is loaded from elsewhere.
 */

const HEAD = '<meta charset="utf-8">\n' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
  '<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">\n' +
  '<link rel="stylesheet" href="/ui/app.css">\n';

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** The login form; `error` is shown above it. */
export function loginPage(error?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
${HEAD}<title>Milpa — log in</title>
</head>
<body class="login">
<main>
  <h1>Milpa state machines</h1>
  <p>Paste the admin token from <code>$MILPA_HOME/client.yaml</code>, or a cluster-wide token
  from <code>milpactl token create --role view</code>.</p>
  ${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ""}
  <form method="post" action="/ui/login">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit">Log in</button>
  </form>
</main>
</body>
</html>
`;
}

/** The view: actors by kind on the left, the selected machine and actor on the right. */
export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
${HEAD}<title>Milpa state machines</title>
<script src="/ui/app.js" defer></script>
</head>
<body>
<header>
  <h1>Milpa state machines</h1>
  <span id="connection" class="connection">connecting…</span>
  <form method="post" action="/ui/logout"><button type="submit">Log out</button></form>
</header>
<main>
  <nav id="sidebar" aria-label="Machines and actors">
    <h2>Machines</h2>
    <ul id="machines" class="machines"></ul>
    <div class="actors-head">
      <h2>Actors</h2>
      <label title="Actors that ended: terminated pods and nodes, stopped reconcilers">
        <input type="checkbox" id="show-finished"> show finished (<span id="finished-count">0</span>)
      </label>
    </div>
    <div id="actors"><p class="empty">No actors yet.</p></div>
  </nav>
  <section id="view" aria-live="polite">
    <h2 id="title">Loading…</h2>
    <p id="subtitle"></p>
    <p id="links" class="links" hidden></p>
    <div id="chart" class="chart"></div>
    <div id="details" class="details" hidden>
      <div>
        <h3>Context</h3>
        <table id="context"><tbody></tbody></table>
      </div>
      <div>
        <h3>Recent transitions</h3>
        <table id="transitions">
          <thead><tr><th>time (UTC)</th><th>event</th><th>from</th><th>to</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </div>
  </section>
</main>
</body>
</html>
`;

/** A small icon, so that the browser's favicon request is answered here too. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="1" width="14" height="14" rx="4" fill="#2e7d32"/><circle cx="8" cy="8" r="3" fill="#ffd54f"/></svg>\n';

/** The stylesheet of both pages. */
export const UI_CSS = `
:root { --active: #ffd54f; --active-border: #e65100; --line: #607d8b; --muted: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1f2933; background: #f7f7f5; }
header { display: flex; align-items: center; gap: 1rem; padding: .5rem 1rem; background: #2e7d32; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
header button { background: transparent; color: #fff; border: 1px solid #fff8; border-radius: 4px; cursor: pointer; }
.connection { font-size: .85rem; opacity: .9; white-space: nowrap; }
.connection.live::before { content: "● "; color: #b9f6ca; }
.connection.down::before { content: "● "; color: #ff8a80; }
main { display: flex; align-items: flex-start; gap: 1rem; padding: 1rem; }
nav { width: 22rem; flex: none; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem; max-height: calc(100vh - 5rem); overflow: auto; position: sticky; top: 1rem; }
nav h2 { font-size: .95rem; margin: .75rem 0 .25rem; }
nav h3 { font-size: .85rem; margin: .5rem 0 .1rem; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
nav h3 .count { text-transform: none; letter-spacing: 0; font-weight: normal; }
nav ul { list-style: none; margin: 0; padding: 0; }
.actors-head { display: flex; align-items: baseline; justify-content: space-between; gap: .5rem; }
.actors-head label { font-size: .8rem; color: var(--muted); cursor: pointer; white-space: nowrap; }
.machines { display: flex; flex-wrap: wrap; gap: .25rem; }
nav button { font: inherit; border: 0; background: none; padding: .1rem .3rem; cursor: pointer; text-align: left; border-radius: 4px; color: inherit; }
nav button:hover, nav .selected > button { background: #e8f5e9; }
.machines button { border: 1px solid #c8e6c9; }
.actor { display: grid; grid-template-columns: minmax(0, 1fr) auto; column-gap: .5rem; align-items: baseline; }
.actor .name, .actor-link { display: flex; min-width: 0; white-space: nowrap; }
.head { overflow: hidden; text-overflow: ellipsis; min-width: 1.5em; }
.tail { flex: none; }
.actor .state { font-family: ui-monospace, monospace; font-size: .8rem; color: #37474f; white-space: nowrap; }
.actor .runs { grid-column: 1 / -1; display: flex; gap: .3em; padding-left: .9rem; font-size: .8rem; color: var(--muted); min-width: 0; white-space: nowrap; }
.actor-link { color: #1b5e20; text-decoration: none; }
.actor-link:hover { text-decoration: underline; }
.actor.finished { display: none; }
.show-finished .actor.finished, .actor.finished.selected { display: grid; }
.actor.finished .name, .actor.finished .state { color: var(--muted); }
.actor.finished .state { text-decoration: line-through; }
#actors section.all-finished { display: none; }
#actors.show-finished section.all-finished:not([hidden]) { display: block; }
.actor.flash .state { background: var(--active); }
.empty { color: var(--muted); }
#view { flex: 1; min-width: 0; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem 1rem; }
#view h2 { margin: .25rem 0; font-size: 1.1rem; overflow-wrap: anywhere; }
#subtitle { color: var(--muted); margin: 0 0 .5rem; }
.links { margin: 0 0 .5rem; display: flex; flex-wrap: wrap; gap: 1rem; }
.links .link { display: inline-flex; gap: .3em; min-width: 0; max-width: 100%; white-space: nowrap; }
.chart { overflow: auto; border: 1px solid #eee; border-radius: 4px; background: #fcfcfb; }
.chart svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
.chart .state rect { fill: #fff; stroke: var(--line); stroke-width: 1.2; }
.chart .state.compound > rect { fill: #f1f5f9; }
.chart .state text { font-size: 12px; fill: #1f2933; }
.chart .state text .note { font-size: 10.5px; fill: var(--muted); }
.chart .state.active > rect { fill: var(--active); stroke: var(--active-border); stroke-width: 2.5; }
.chart .state.compound.active > rect { fill: #fff8e1; }
.chart .arrow path { fill: none; stroke: var(--line); stroke-width: 1.1; }
.chart .arrow.eventless path { stroke-dasharray: 4 3; }
.chart .label text { font-size: 10px; fill: #37474f; }
.chart .label rect { fill: #fcfcfbdd; }
.chart .initial { fill: #37474f; }
.chart marker path { fill: var(--line); }
.measure { position: absolute; visibility: hidden; }
.details { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.25fr); gap: 1rem; margin-top: 1rem; }
.details > div { min-width: 0; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .15rem .4rem; border-bottom: 1px solid #eee; vertical-align: top; }
td.mono, #context td:last-child { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
#context td:first-child { white-space: nowrap; }
td.time, td.event { white-space: nowrap; }
tr.repeated td { background: #f8fafc; }
.times { font-weight: 600; color: #37474f; }
body.login main { display: block; max-width: 26rem; margin: 10vh auto; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1.5rem; }
body.login h1 { font-size: 1.2rem; margin-top: 0; }
body.login form { display: flex; flex-direction: column; gap: .5rem; }
body.login input { font: inherit; padding: .4rem; }
body.login button { font: inherit; padding: .4rem; background: #2e7d32; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
.error { color: #b71c1c; }
@media (max-width: 1000px) {
  main { flex-direction: column; align-items: stretch; padding: .5rem; gap: .5rem; }
  nav { width: auto; max-height: 45vh; position: static; }
  #actors { columns: 2 17rem; column-gap: 1.5rem; }
  #actors section { break-inside: avoid; }
  .details { grid-template-columns: minmax(0, 1fr); }
}
@media (max-width: 520px) {
  header { gap: .5rem; padding: .5rem; }
  #view { padding: .5rem; }
}
`;
