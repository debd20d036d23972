/**
 * `deno task bench [N]`: the quick in-process throughput run (bench/pod_throughput.ts).
 * `deno task bench --scale [options]`: the scale benchmark (bench/scale.ts; --help there).
 */
if (Deno.args.includes("--scale")) {
  const { runScale } = await import("./scale.ts");
  Deno.exitCode = await runScale(Deno.args);
} else {
  await import("./pod_throughput.ts");
}
