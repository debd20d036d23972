/**
 * `deno task bench [N]`: the quick in-process throughput run (bench/pod_throughput.ts).
 * `deno task bench --scale [options]`: the scale benchmark (bench/scale.ts; --help there).
 */
if (Deno.args.includes("--scale")) {
  const { runScale } = await import("./scale.ts");
  Deno.exitCode = await runScale(Deno.args);
} else if (Deno.args.some((a) => a === "--help" || a === "-h")) {
  console.log(
    `Usage: deno task bench [N]        N pods (default 1000) through create → Running, in process
       deno task bench --scale [...]  the scale benchmark (deno task bench --scale --help)`,
  );
} else if (Deno.args.length > 1 || (Deno.args[0] && !/^[1-9][0-9]*$/.test(Deno.args[0]))) {
  console.error(
    `deno task bench: N must be a whole number of pods, got ${
      JSON.stringify(Deno.args.join(" "))
    } ` +
      "(--help for usage)",
  );
  Deno.exitCode = 2;
} else {
  await import("./pod_throughput.ts");
}
