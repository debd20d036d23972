/** The Secret manifest: `data` (base64 values), `stringData` (plain), `type`; keys as in Kubernetes. */
import { z } from "zod";
import { objectMeta } from "./common.ts";
import { dns1123SubdomainProblem } from "./formats.ts";

const KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const keyed = (value: z.ZodString) =>
  z.record(
    z.string().regex(KEY, "a key may hold only letters, digits, '-', '_' and '.'"),
    value,
  );

/** The schema of a Secret manifest. */
export const secretManifest = z.strictObject({
  apiVersion: z.literal("v1"),
  kind: z.literal("Secret"),
  metadata: objectMeta(dns1123SubdomainProblem),
  data: keyed(z.string().regex(BASE64, "must be base64 (use stringData for plain text)"))
    .optional(),
  stringData: keyed(z.string()).optional(),
  type: z.string().min(1).optional(),
  status: z.unknown().optional(),
});
