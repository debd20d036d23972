/** The pod parts of `describe` that templates share: resources and units (with their state). */
import type { ResourceSpec, Unit, UnitState, UnitStatus } from "../../model/pod.ts";
import type { DescribeWriter } from "./describe_writer.ts";

/** `Resources:` and one line per resource, or `<none>`. */
export function writeResources(
  w: DescribeWriter,
  level: number,
  resources: ResourceSpec | undefined,
) {
  const entries = Object.entries(resources ?? {}).filter(([, v]) => v !== undefined);
  if (!entries.length) return void w.field(level, "Resources", "<none>");
  w.field(level, "Resources");
  for (const [k, v] of entries) w.field(level + 1, k, String(v));
}

/** A unit's state: Running, Terminated or Waiting, with its details. */
export function writeState(
  w: DescribeWriter,
  level: number,
  key: string,
  state: UnitState | undefined,
) {
  if (state?.running) {
    w.field(level, key, "Running");
    w.field(level + 1, "Started", state.running.startedAt);
  } else if (state?.terminated) {
    const t = state.terminated;
    w.field(level, key, "Terminated");
    w.field(level + 1, "Exit Code", t.exitCode);
    if (t.reason) w.field(level + 1, "Reason", t.reason);
    if (t.message) w.field(level + 1, "Message", t.message);
    if (t.startedAt) w.field(level + 1, "Started", t.startedAt);
    w.field(level + 1, "Finished", t.finishedAt);
  } else if (state?.waiting) {
    w.field(level, key, "Waiting");
    w.field(level + 1, "Reason", state.waiting.reason || "<none>");
    if (state.waiting.startFailure) w.field(level + 1, "Start Failure", "true");
  } else {
    w.field(level, key, "<unknown>");
  }
}

/** Units with image, command, args, ports and env; with `statuses`, also their state. */
export function writeUnits(
  w: DescribeWriter,
  level: number,
  key: string,
  units: Unit[] | undefined,
  statuses?: UnitStatus[],
): void {
  if (!units?.length) return void w.field(level, key, "<none>");
  w.field(level, key);
  for (const unit of units) {
    const status = statuses?.find((s) => s.name === unit.name);
    w.field(level + 1, unit.name);
    w.field(level + 2, "Image", unit.image || "<none>");
    if (unit.command?.length) w.field(level + 2, "Command", unit.command.join(" "));
    if (unit.args?.length) w.field(level + 2, "Args", unit.args.join(" "));
    if (unit.workingDir) w.field(level + 2, "Working Dir", unit.workingDir);
    if (unit.ports?.length) {
      w.field(
        level + 2,
        "Ports",
        unit.ports.map((p) => `${p.containerPort}/${p.protocol ?? "TCP"}`).join(", "),
      );
    }
    if (unit.env?.length) {
      w.multi(
        level + 2,
        "Environment",
        unit.env.map((e) =>
          e.valueFrom?.secretKeyRef
            ? `${e.name}=<secret ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}>`
            : `${e.name}=${e.value ?? ""}`
        ),
      );
    }
    if (status || statuses) {
      writeState(w, level + 2, "State", status?.state);
      if (status?.lastState && Object.keys(status.lastState).length) {
        writeState(w, level + 2, "Last State", status.lastState);
      }
      if (status?.ready !== undefined) w.field(level + 2, "Ready", status.ready);
      w.field(level + 2, "Restart Count", status?.restartCount ?? 0);
    }
  }
}
