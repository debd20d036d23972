/**
 * The one flag table: every option milpactl knows, defined once. Commands pick the flags
 * they take from here, so a flag means the same thing and parses the same way everywhere.
 */
import { InvalidArgumentError, Option } from "commander";
import { DEFAULT_CHUNK_SIZE } from "./client.ts";

/** Output formats of `get -o`. */
export const OUTPUT_FORMATS = ["json", "yaml", "wide"] as const;

/** Output formats of `get`: those of every command, and `name` (`pod/web` per object). */
export const GET_OUTPUT_FORMATS = [...OUTPUT_FORMATS, "name"] as const;

/** A value of `-o/--output`. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** A value of `get -o`: a format, or `jsonpath=TEMPLATE` (the template is parsed later). */
export type GetOutputFormat = (typeof GET_OUTPUT_FORMATS)[number] | `jsonpath=${string}`;

/** Checks a `get -o` value: one of GET_OUTPUT_FORMATS, or `jsonpath=TEMPLATE`. */
export function parseGetOutput(given: string): GetOutputFormat {
  // `-o=json` reaches here as "=json" (kubectl's flag library takes both spellings).
  const value = given.startsWith("=") ? given.slice(1) : given;
  if ((GET_OUTPUT_FORMATS as readonly string[]).includes(value)) return value as GetOutputFormat;
  if (value.startsWith("jsonpath=")) return value as GetOutputFormat;
  const hint = value === "jsonpath" ? " (give the template: -o jsonpath='{.metadata.name}')" : "";
  throw new InvalidArgumentError(
    `unknown output format "${value}"${hint}: use ${GET_OUTPUT_FORMATS.join(", ")} or ` +
      "jsonpath=TEMPLATE.",
  );
}

/** Options every command inherits from the root command. */
export interface GlobalOptions {
  endpoint?: string;
  token?: string;
  /** Absent when not given; commands fall back to "default". */
  namespace?: string;
}

function parseBool(value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidArgumentError('expected "true" or "false".');
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number.");
  return Number(value);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A Go-style duration (`90s`, `5m`, `1h30m`, `500ms`) in milliseconds; `0` means none.
 * A number without a unit is refused, as in kubectl, so `--timeout 5` is not taken for ms.
 */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (text === "0") return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== text) {
    throw new InvalidArgumentError('expected a duration such as "90s", "5m" or "1h30m".');
  }
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * DURATION_UNITS[p[2]], 0));
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Factories for every flag (an Option belongs to one command, so each use builds a new one). */
export const FLAGS = {
  endpoint: () =>
    new Option(
      "--endpoint <url>",
      "controller URL (default: $MILPA_ENDPOINT, then client.yaml)",
    ),
  token: () => new Option("--token <token>", "API token (default: $MILPA_TOKEN, then client.yaml)"),
  namespace: () => new Option("-n, --namespace <namespace>", 'namespace (default: "default")'),
  output: () =>
    new Option("-o, --output <format>", "output format: json, yaml or wide").choices(
      OUTPUT_FORMATS,
    ),
  getOutput: () =>
    new Option(
      "-o, --output <format>",
      "output format: json, yaml, wide (more columns), name (TYPE/NAME, one a line) or " +
        "jsonpath=TEMPLATE (kubectl's, e.g. jsonpath='{.items[*].metadata.name}')",
    ).argParser(parseGetOutput),
  showAll: () =>
    new Option(
      "-a, --show-all",
      "also list pods whose deletion finished (hidden as in kubectl; kept for 3 minutes)",
    ),
  selector: () => new Option("-l, --selector <selector>", "label selector, e.g. app=web,tier!=db"),
  allNamespaces: () => new Option("-A, --all-namespaces", "list across every namespace"),
  watch: () => new Option("-w, --watch", "after listing, print changes as they happen"),
  showLabels: () => new Option("--show-labels", "add a LABELS column"),
  chunkSize: () =>
    new Option(
      "--chunk-size <n>",
      "objects per request when listing (0: all in one request)",
    ).argParser(parseCount).default(DEFAULT_CHUNK_SIZE),
  filename: () =>
    new Option(
      "-f, --filename <file>",
      "manifest file (YAML or JSON, several documents allowed; - for stdin); repeatable",
    ).argParser(collect),
  cascade: () =>
    new Option("--cascade <bool>", "also delete the objects this one owns")
      .argParser(parseBool)
      .default(true),
  unit: () => new Option("-u, --unit <unit>", "unit to show (needed when the pod has several)"),
  follow: () => new Option("-f, --follow", "keep streaming new lines until Ctrl-C"),
  lines: () => new Option("--lines <n>", "only the last n lines").argParser(parseCount),
  revision: () =>
    new Option("--revision <n>", "show the pod template of this revision").argParser(parseCount),
  toRevision: () =>
    new Option("--to-revision <n>", "the revision to roll back to (default: the previous one)")
      .argParser(parseCount),
  timeout: () =>
    new Option(
      "--timeout <duration>",
      "give up after this long, e.g. 90s or 5m (default: wait as long as it takes)",
    ).argParser(parseDuration),
  watchRollout: () =>
    new Option("--watch <bool>", "keep watching until the rollout finishes; false: look once")
      .argParser(parseBool)
      .default(true),
  role: () =>
    new Option("--role <role>", "edit: read and write; view: read only, but no Secrets")
      .choices(["edit", "view"])
      .makeOptionMandatory(),
  ttl: () =>
    new Option("--ttl <duration>", "how long the token works, e.g. 1h or 720h; 0: forever")
      .argParser(parseDuration)
      .default(24 * 3_600_000, "24h"),
  description: () => new Option("--description <text>", "what the token is for (shown by list)"),
  replicas: () =>
    new Option("--replicas <n>", "desired number of replicas").argParser(parseCount)
      .makeOptionMandatory(),
};
