/**
 * The head of the bundled `dist/milpactl`: one file that is both a POSIX sh script and
 * JavaScript. sh runs the head, which finds a Deno and execs it on the file itself; to
 * JavaScript the head is `true /* ... *\/`, one harmless statement. So the file runs where Deno
 * came only from npm (`npx -y deno@...`, no `deno` on PATH), which a `#!/usr/bin/env deno`
 * line cannot.
 *
 * Deno is looked for in this order: `$MILPA_DENO`, `deno` on PATH, `~/.deno/bin/deno` (Deno's
 * installer), then npm's npx cache (`${npm_config_cache:-~/.npm}/_npx/<hash>/node_modules/`,
 * `deno/deno` or `@deno/<platform>/deno`), taking the first that runs. With none, it says what
 * to run and exits 127.
 */

/** What the launcher runs the file with. */
export interface LauncherOptions {
  /** Flags of `deno run` before the file, e.g. `["--allow-net", "--no-config"]`. */
  runFlags: string[];
  /** The Deno release named in the advice when none is found, e.g. "2.9.6". */
  denoVersion: string;
  /** The program's name in messages. */
  name: string;
}

/** The sh lines between `true /*` and the line that closes the comment. */
function script(o: LauncherOptions): string {
  const flags = o.runFlags.join(" ");
  return `# ${o.name}, bundled into one file: these lines are sh (and a comment to JavaScript).
# They find a Deno and run this same file with it.
runs() { [ -f "$1" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }
deno=
if [ -n "\${MILPA_DENO:-}" ]; then
  deno=$MILPA_DENO
elif command -v deno >/dev/null 2>&1; then
  deno=$(command -v deno)
elif runs "\${HOME:-}/.deno/bin/deno"; then
  deno=$HOME/.deno/bin/deno
else
  cache=\${npm_config_cache:-\${HOME:-}/.npm}
  for dir in "$cache"/_npx/*; do
    for d in "$dir/node_modules/deno/deno" "$dir"/node_modules/@deno/*; do
      [ -d "$d" ] && d=$d/deno
      if runs "$d"; then deno=$d; break 2; fi
    done
  done
fi
if [ -z "$deno" ]; then
  case $0 in
    /*) self=$0 ;;
    *) self=$(pwd)/$0 ;;
  esac
  cat >&2 <<MILPA_NO_DENO
${o.name}: no Deno to run it with: none on PATH, in ~/.deno/bin, or in npm's npx cache
(\${npm_config_cache:-~/.npm}/_npx). Run it with Deno from npm:
  npx -y deno@${o.denoVersion} run ${flags} $self <arguments>
or install Deno ${o.denoVersion} (https://docs.deno.com/runtime/getting_started/installation/)
and put it on PATH, or set MILPA_DENO to a deno binary.
MILPA_NO_DENO
  exit 127
fi
exec "$deno" run ${flags} "$0" "$@"`;
}

/** The launcher head: from the `#!/bin/sh` line to the line that ends the JS comment. */
export function launcher(o: LauncherOptions): string {
  const sh = script(o);
  // The sh lines sit inside a JavaScript block comment, which the first "*" "/" would end.
  if (sh.includes("*/")) throw new Error("the launcher's sh code must not contain */");
  return `#!/bin/sh\ntrue /*\n${sh}\n*/;\n`;
}

/** `js` (a bundled ES module) behind the launcher head: one executable file. */
export function withLauncher(js: string, o: LauncherOptions): string {
  return launcher(o) + js.replace(/^#![^\n]*\n/, "");
}
