/**
 * Pods that drive Milpa: the annotation `pod.elotl.co/milpactl-volume-name: VOL` names one of
 * the pod's volumes. The node's agent puts milpactl there (`milpactl.js`, an executable
 * `milpactl` wrapper, and `ca.crt` when the controller serves https), and every unit gets
 * `MILPA_ENDPOINT`, `MILPA_TOKEN` (an edit token for the pod's namespace, valid while the pod
 * lives), `MILPA_CA_FILE` and `MILPACTL` (the wrapper's path).
 */
import type { ObjectMeta } from "./meta.ts";
import type { PodSpec } from "./pod.ts";

/** The annotation naming the volume milpactl is put into. */
export const MILPACTL_VOLUME_ANNOTATION = "pod.elotl.co/milpactl-volume-name";

/** The volume a pod wants milpactl in, if any. */
export function milpactlVolumeOf(meta: ObjectMeta): string | undefined {
  return meta.annotations?.[MILPACTL_VOLUME_ANNOTATION] || undefined;
}

/** Why the pod's milpactl annotation cannot be honoured, or undefined when it can (or is absent). */
export function milpactlVolumeProblem(meta: ObjectMeta, spec: PodSpec): string | undefined {
  const value = meta.annotations?.[MILPACTL_VOLUME_ANNOTATION];
  if (value === undefined) return undefined;
  const volume = (spec.volumes ?? []).find((v) => v.name === value);
  if (!volume) {
    const names = (spec.volumes ?? []).map((v) => `"${v.name}"`).join(", ") || "none";
    return `names volume "${value}", which the pod does not have (its volumes: ${names})`;
  }
  if (!volume.emptyDir) return `names volume "${value}", which is not an emptyDir volume`;
  return undefined;
}
