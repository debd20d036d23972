import assert from "node:assert/strict";
import { gzip, sha256, streamOf, tarArchive, type TarSpec } from "./oci/testing.ts";
import { PackageError, symlinkStaysInside, unpackPackage } from "./package_unpack.ts";
import { downloadPackage, installPackage, packageLink } from "./packages.ts";

/** A tar whose single entry has type flag `flag` (a device file, a FIFO). */
function tarWithFlag(path: string, flag: string): Uint8Array {
  const tar = tarArchive([{ path, content: "" }]);
  const header = tar.subarray(0, 512);
  header[156] = flag.charCodeAt(0);
  header.fill(0x20, 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  header.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return tar;
}

/** Lists every path under `dir`, relative, sorted. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    out.push(rel);
    if (e.isDirectory) out.push(...await tree(`${dir}/${e.name}`, `${rel}/`));
  }
  return out.sort();
}

async function withDirs(fn: (outside: string, root: string) => Promise<void>) {
  const base = await Deno.makeTempDir({ prefix: "milpa-pkg-" });
  try {
    await Deno.mkdir(`${base}/outside`);
    await Deno.mkdir(`${base}/outside/root`);
    await fn(`${base}/outside`, `${base}/outside/root`);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test("unpackPackage() unpacks files, directories, links inside, and keeps modes", async () => {
  await withDirs(async (_outside, root) => {
    const tar = tarArchive([
      { path: "./", type: "directory" },
      { path: "./bin/", type: "directory" },
      { path: "./bin/run.sh", content: "#!/bin/sh\necho hi\n", mode: 0o4755 },
      { path: "./bin/link", type: "symlink", linkName: "run.sh" },
      { path: "./up", type: "symlink", linkName: "bin/../bin/run.sh" },
      { path: "./hard", type: "hardlink", linkName: "bin/run.sh" },
    ]);
    const counts = await unpackPackage(root, streamOf(tar));
    assert.deepEqual(counts, { files: 2, directories: 1, symlinks: 2, bytes: 18 });
    assert.deepEqual(await tree(root), ["bin", "bin/link", "bin/run.sh", "hard", "up"]);
    assert.equal((await Deno.stat(`${root}/bin/run.sh`)).mode! & 0o7777, 0o755);
    assert.equal(await Deno.readTextFile(`${root}/up`), "#!/bin/sh\necho hi\n");
  });
});

Deno.test("symlinkStaysInside() judges targets from the link's directory", () => {
  assert.equal(symlinkStaysInside(["a", "b", "l"], "../x"), true);
  assert.equal(symlinkStaysInside(["a", "b", "l"], "../../x"), true);
  assert.equal(symlinkStaysInside(["a", "b", "l"], "../../../x"), false);
  assert.equal(symlinkStaysInside(["l"], ".."), false);
  assert.equal(symlinkStaysInside(["l"], "/etc/passwd"), false);
});

const REFUSED: [string, Uint8Array, RegExp][] = [
  [
    "a path with ..",
    tarArchive([{ path: "../x", content: "evil" }]),
    /"\.\.\/x": path with "\.\."/,
  ],
  [
    "a .. in the middle",
    tarArchive([{ path: "a/../../x", content: "evil" }]),
    /path with "\.\."/,
  ],
  ["an absolute path", tarArchive([{ path: "/tmp/x", content: "evil" }]), /absolute path/],
  [
    "an absolute symlink",
    tarArchive([{ path: "l", type: "symlink", linkName: "/etc" }]),
    /symlink "l" -> "\/etc": absolute target/,
  ],
  [
    "a symlink escaping",
    tarArchive([{ path: "d/l", type: "symlink", linkName: "../../x" }]),
    /symlink "d\/l" -> "\.\.\/\.\.\/x": target outside the package/,
  ],
  [
    "a write through a symlink",
    tarArchive([
      { path: "l", type: "symlink", linkName: "." },
      { path: "l/x", content: "x" },
    ]),
    /"l\/x": its path passes through a symlink/,
  ],
  [
    "a hard link out",
    tarArchive([{ path: "h", type: "hardlink", linkName: "../outside.txt" }]),
    /hard link "h" to "\.\.\/outside\.txt": path with "\.\."/,
  ],
  [
    "a hard link to an absolute path",
    tarArchive([{ path: "h", type: "hardlink", linkName: "/etc/passwd" }]),
    /absolute path/,
  ],
  [
    "a hard link to a symlink",
    tarArchive([
      { path: "l", type: "symlink", linkName: "x" },
      { path: "h", type: "hardlink", linkName: "l" },
    ]),
    /not a file of the package/,
  ],
  ["a character device", tarWithFlag("dev", "3"), /"dev": a char entry/],
  ["a FIFO", tarWithFlag("fifo", "6"), /"fifo": a fifo entry/],
];

for (const [what, tar, message] of REFUSED) {
  Deno.test(`installPackage() refuses ${what}, writes nothing outside, keeps the old content`, async () => {
    await withDirs(async (outside, root) => {
      await Deno.writeTextFile(`${outside}/outside.txt`, "keep");
      const good = await gzip(tarArchive([{ path: "ok.txt", content: "v1" }]));
      await Deno.writeFile(`${outside}/good.tgz`, good);
      await installPackage(root, "src", `${outside}/good.tgz`);
      await Deno.writeFile(`${outside}/bad.tgz`, await gzip(tar));
      const before = await tree(outside);
      await assert.rejects(
        () => installPackage(root, "src", `${outside}/bad.tgz`),
        (err) => err instanceof PackageError && message.test(err.message),
      );
      assert.deepEqual(await tree(outside), before, "nothing new anywhere");
      assert.equal(await Deno.readTextFile(`${packageLink(root, "src")}/ok.txt`), "v1");
      assert.equal(await Deno.readTextFile(`${outside}/outside.txt`), "keep");
    });
  });
}

Deno.test("installPackage() swaps a new deployment in and keeps one older version", async () => {
  await withDirs(async (outside, root) => {
    for (const v of ["v1", "v2", "v3"]) {
      const specs: TarSpec[] = [{ path: "file.txt", content: v }];
      await Deno.writeFile(`${outside}/${v}.tar`, tarArchive(specs));
      await installPackage(root, "src", `${outside}/${v}.tar`);
      assert.equal(await Deno.readTextFile(`${root}/src/file.txt`), v);
    }
    const entries = (await tree(root)).filter((p) => !p.includes("/"));
    assert.equal(entries.length, 3, `link, current and previous: ${entries}`);
  });
});

Deno.test("downloadPackage() refuses a size or sha256 that does not match", async () => {
  await withDirs(async (outside) => {
    const bytes = new TextEncoder().encode("package bytes");
    const offer = {
      name: "src",
      size: bytes.length,
      sha256: sha256(bytes).replace(/^sha256:/, ""),
    };
    await downloadPackage(streamOf(bytes, 4), `${outside}/ok`, offer);
    assert.deepEqual(await Deno.readFile(`${outside}/ok`), bytes);
    await assert.rejects(
      () => downloadPackage(streamOf(bytes), `${outside}/a`, { ...offer, size: 3 }),
      /got more than 3 bytes, expected 3/,
    );
    await assert.rejects(
      () => downloadPackage(streamOf(bytes), `${outside}/b`, { ...offer, sha256: "00" }),
      /sha256 [0-9a-f]{64} does not match the uploaded 00/,
    );
    assert.deepEqual(await tree(outside), ["ok", "root"]);
  });
});
