/**
 * Messages between the controller and a node agent over the agent's WebSocket
 * (`/agent/v1/connect`). Every message is one JSON text frame with a `type`.
 *
 * The agent dials the controller with `Authorization: Bearer <node token>` and
 * `X-Milpa-Node: <node name>`; the controller never dials the agent. On every
 * (re)connect the controller sends the whole desired pod (`apply`), and the agent
 * converges to it idempotently: applying the same desired pod twice changes nothing.
 */
import type { PodSpec, UnitStatus } from "./pod.ts";

/** Version of this protocol; the agent sends it in `hello`. */
export const AGENT_PROTOCOL_VERSION = 1;

/** The pod a node should run, as the controller sends it. */
export interface DesiredPod {
  namespace: string;
  name: string;
  uid: string;
  /** The full pod spec; secrets already resolved into env values. */
  spec: PodSpec;
  /** Extra environment for every unit (MILPA_POD_NAME, MILPA_POD_IP, MILPA_NODE_NAME, ...). */
  env: Record<string, string>;
  /**
   * Registry credentials from the pod's imagePullSecrets, by registry host ("docker.io",
   * "registry.example:5000"); only these, and only for this pod, reach the node.
   */
  credentials?: Record<string, { username: string; password: string }>;
  /**
   * The pod drives Milpa (`model/pod_milpactl.ts`): the agent puts milpactl into this emptyDir
   * volume and adds MILPA_ENDPOINT, MILPA_CA_FILE and MILPACTL to every unit's env (the
   * controller puts the pod's MILPA_TOKEN into `env`).
   */
  milpactl?: { volume: string };
}

/**
 * Controller → agent: run exactly this pod (or nothing when `pod` is null). Acked by `applied`,
 * sent only once every unit the apply stops has exited: units get SIGTERM, then SIGKILL after
 * the `spec.terminationGracePeriodSeconds` (default 30) of the pod that goes (null, or a new
 * uid), or of the desired pod for its changed and removed units. So an `applied` may take
 * that long. After a null apply the stopped pod's unit logs stay readable (`logs`; a follow
 * ends at once), and its final unit statuses reported (see StatusMessage), until another pod
 * is applied.
 */
export interface ApplyMessage {
  type: "apply";
  /** Correlates the agent's `applied` answer. */
  id: number;
  pod: DesiredPod | null;
}

/** Controller → agent: the last lines of a unit's log. Answered by `logs.result`. */
export interface LogsRequestMessage {
  type: "logs";
  id: number;
  unit: string;
  /** Lines from the end; 0 or absent means all kept lines. */
  lines?: number;
  /** Keep sending new lines as `logs.data` until `logs.cancel`. */
  follow?: boolean;
}

/** Controller → agent: stop a follow stream. */
export interface LogsCancelMessage {
  type: "logs.cancel";
  id: number;
}

/**
 * Controller → agent: open an exec, attach or port-forward stream. The agent dials back a
 * WebSocket to `/agent/v1/streams/{id}` (node token, as `/agent/v1/connect`) and carries the
 * stream there (frames of `model/stream_frames.ts`); it never answers on this connection.
 * Problems with the stream (no such unit, a closed port) end that WebSocket with a status.
 */
export interface StreamOpenMessage {
  type: "stream.open";
  id: number;
  /** Unguessable stream id (a UUID), the last segment of the dial-back path. */
  stream: string;
  kind: "exec" | "attach" | "portforward";
  /** Unit (exec, attach); the pod's first unit when absent. */
  unit?: string;
  /** Program and arguments (exec). */
  command?: string[];
  /** Whether the client sends stdin (exec, attach). */
  stdin?: boolean;
  /** Run the command on a terminal (exec) or attach to the unit's terminal (attach). */
  tty?: boolean;
  /** Initial terminal size (exec with tty). */
  cols?: number;
  rows?: number;
  /** TCP port in the pod's network (portforward). */
  port?: number;
}

/**
 * Controller → agent: a package was uploaded for the running pod (`milpactl deploy`). The agent
 * fetches it with its node token from `GET /agent/v1/packages/{podUid}/{name}`, checks `size`
 * and `sha256`, unpacks it safely into a new directory and swaps that in atomically as the
 * content of the pod's packagePath volume `name`. Answered by `package.result`.
 */
export interface PackageMessage {
  type: "package";
  id: number;
  podUid: string;
  /** The package (and volume) name. */
  name: string;
  /** Hex sha256 of the tarball. */
  sha256: string;
  /** Bytes of the tarball. */
  size: number;
}

/** Everything the controller sends. */
export type ControllerMessage =
  | ApplyMessage
  | LogsRequestMessage
  | LogsCancelMessage
  | StreamOpenMessage
  | PackageMessage;

/** Agent → controller: first frame after connecting. */
export interface HelloMessage {
  type: "hello";
  node: string;
  protocolVersion: number;
  /** UID of the pod the agent is running, if any (lets a restarted controller re-attach). */
  podUid?: string;
  /** Process id of the agent, for diagnostics. */
  pid?: number;
  /**
   * How the node runs units that have an image: "runc" or "unshare" (namespaces + chroot).
   * Absent when it cannot (runtime "host", or no root, runc or unshare): image-only units then
   * fail to start with a waiting reason that says so.
   */
  containerRuntime?: "runc" | "unshare";
}

/**
 * Agent → controller: the pod's unit statuses; sent on every change and every heartbeat.
 *
 * A pod stopped by an `apply` with a null pod is still reported, under its uid, until another
 * pod is applied: while it stops, units in their grace period show running and the others
 * terminated; once stopped (the status that says so is sent before `applied`), every unit that
 * ran is terminated with its exit code and, when a signal ended it, reason "Killed by SIGTERM"
 * or "Killed by SIGKILL"; a unit that was waiting stays waiting. Nothing claims it runs: no
 * unit shows running after the stop, and `hello` then carries no `podUid`. A controller must
 * not judge such a pod's phase from these statuses (under restartPolicy Always a terminated
 * unit means a failed pod).
 */
export interface StatusMessage {
  type: "status";
  /** UID of the pod these statuses belong to (or belonged to, once stopped); absent for none. */
  podUid?: string;
  unitStatuses: UnitStatus[];
  initUnitStatuses: UnitStatus[];
  podIP?: string;
}

/** Agent → controller: result of an `apply`. */
export interface AppliedMessage {
  type: "applied";
  id: number;
  error?: string;
}

/** Agent → controller: answer to `logs` (the whole answer when not following). */
export interface LogsResultMessage {
  type: "logs.result";
  id: number;
  text?: string;
  error?: string;
}

/** Agent → controller: new log text of a followed unit. */
export interface LogsDataMessage {
  type: "logs.data";
  id: number;
  text: string;
}

/** Agent → controller: a followed log ended (unit gone or agent stopping). */
export interface LogsEndMessage {
  type: "logs.end";
  id: number;
}

/**
 * Agent → controller: result of a `package`; `error` says why the package was refused (a
 * digest that does not match, an entry that would escape the volume, ...), and then the
 * volume kept its previous content.
 */
export interface PackageResultMessage {
  type: "package.result";
  id: number;
  error?: string;
}

/** Everything an agent sends. */
export type AgentMessage =
  | HelloMessage
  | StatusMessage
  | AppliedMessage
  | LogsResultMessage
  | LogsDataMessage
  | LogsEndMessage
  | PackageResultMessage;

/** How often an agent sends a status heartbeat, in milliseconds. */
export const AGENT_HEARTBEAT_MS = 10_000;

/**
 * Largest message either side takes, in bytes (UTF-8 for a text frame). A bigger frame is
 * never parsed: the controller closes with 1009 "message too big", the agent with 4009 (a
 * client may only send 1000 or 3000-4999). The largest legitimate messages: an `apply` holds
 * one stored pod (at most 60 kB) with its secrets resolved, and the controller refuses to
 * send one over this; a `logs.result` tail is cut by the agent to fit.
 */
export const MAX_AGENT_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Whether a frame (a string, or binary data) takes more than `limit` bytes on the wire,
 * counting a string as UTF-8 without encoding it.
 */
export function frameTooBig(data: unknown, limit = MAX_AGENT_MESSAGE_BYTES): boolean {
  if (data instanceof Blob) return data.size > limit;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength > limit;
  const text = String(data);
  if (text.length > limit) return true; // every UTF-16 unit is at least one byte
  if (text.length * 3 <= limit) return false; // and at most three
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4; // a surrogate pair is one 4-byte character
        i++;
      } else bytes += 3; // a lone surrogate is sent as U+FFFD
    } else bytes += 3;
  }
  return bytes > limit;
}

/** The agent's configuration file (`agent.json`, `/etc/milpa/agent.json` on cloud nodes). */
export interface AgentConfig {
  /** Base URL of the controller API, e.g. "http://127.0.0.1:54555". */
  controllerURL: string;
  nodeName: string;
  /** Per-node bearer token. */
  token: string;
  /**
   * PEM CA certificate to trust for an https controller URL. Only added to the process's roots:
   * to trust it alone, start the agent as `model/agent_trust.ts` says.
   */
  caCertificate?: string;
  /**
   * Hex sha256 of the agent program (`GET /agent/v1/agent.js`) for nodes that fetch it at boot:
   * their user-data checks the file against it before running it.
   */
  agentSha256?: string;
  /** Directory for unit working directories, logs and volumes. @default "/var/lib/milpa" */
  dataDir?: string;
  /**
   * Where pulled image blobs are kept, by digest. Agents may share one (the local cloud's nodes
   * do): blobs are written to a temporary file and renamed into place once verified.
   * @default "<dataDir>/images"
   */
  imageDir?: string;
  /** The node's (and so the pod's) IP address, when the cloud knows it up front. */
  podIP?: string;
  /** Agent's own log file; stderr when absent. */
  logFile?: string;
  /**
   * How units run. "host": every unit is a host process (its command; an image-only unit
   * cannot start). "oci": units with an image run from it, isolated in their own PID, mount
   * and UTS namespaces; a node that cannot do that fails them with a waiting reason saying
   * why. "auto": "oci" when the node can run containers (root, and runc or unshare), else
   * "host". Units without an image always run on the host. @default "auto"
   */
  runtime?: "auto" | "oci" | "host";
  /**
   * Registries pulled from over plain HTTP ("host:port", or "host" for every port). Loopback
   * registries (localhost, 127.0.0.0/8, ::1) always are; all others use HTTPS.
   */
  insecureRegistries?: string[];
  /**
   * An HTTP forward proxy every registry request goes through (CONNECT for https registries,
   * absolute-form for plain-http ones), e.g. "http://198.18.0.1:41234": the local cloud's
   * controller runs one on the gateway for nodes in network namespaces, which reach nothing
   * beyond the bridge. The agent authenticates with Basic `nodeName:token`. The controller
   * connection never uses it.
   */
  registryProxy?: string;
}
