import assert from "node:assert/strict";
import { resolveInRoot } from "./root_path.ts";
import { gzip, streamOf, tarArchive, type TarSpec } from "./testing.ts";
import { applyLayer, unpackImage } from "./unpack.ts";

async function withRoot(fn: (root: string, tmp: string) => Promise<void>) {
  const tmp = await Deno.makeTempDir();
  try {
    await fn(`${tmp}/rootfs`, tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Writes gzipped layers to files and unpacks them. */
async function unpack(root: string, tmp: string, layers: TarSpec[][]) {
  const paths: string[] = [];
  for (const [i, layer] of layers.entries()) {
    const path = `${tmp}/layer${i}`;
    await Deno.writeFile(path, await gzip(tarArchive(layer)));
    paths.push(path);
  }
  await unpackImage(root, paths);
}

async function tree(root: string, dir = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}${dir}`)) {
    const p = `${dir}/${e.name}`;
    out.push(e.isDirectory ? `${p}/` : p);
    if (e.isDirectory) out.push(...await tree(root, p));
  }
  return out.sort();
}

Deno.test("unpackImage() stacks layers: later files replace earlier ones", async () => {
  await withRoot(async (root, tmp) => {
    await unpack(root, tmp, [
      [{ path: "etc/", type: "directory" }, { path: "etc/a", content: "1" }, {
        path: "bin/tool",
        content: "#!",
        mode: 0o755,
      }],
      [{ path: "etc/a", content: "2" }, { path: "etc/b", type: "symlink", linkName: "a" }],
    ]);
    assert.equal(await Deno.readTextFile(`${root}/etc/a`), "2");
    assert.equal(await Deno.readLink(`${root}/etc/b`), "a");
    assert.equal((await Deno.stat(`${root}/bin/tool`)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(root)).mode! & 0o777, 0o755);
  });
});

Deno.test("unpackImage() deletes lower files and directories for .wh. entries", async () => {
  await withRoot(async (root, tmp) => {
    await unpack(root, tmp, [
      [
        { path: "a/keep", content: "k" },
        { path: "a/gone", content: "g" },
        { path: "dir/sub/x", content: "x" },
      ],
      [{ path: "a/.wh.gone", content: "" }, { path: ".wh.dir", content: "" }, {
        path: "a/.wh.never-existed",
        content: "",
      }],
    ]);
    assert.deepEqual(await tree(root), ["/a/", "/a/keep"]);
  });
});

Deno.test("unpackImage() opaque directories hide lower content but keep the layer's own", async () => {
  await withRoot(async (root, tmp) => {
    await unpack(root, tmp, [
      [{ path: "d/old", content: "o" }, { path: "d/sub/old", content: "o" }, {
        path: "other",
        content: "x",
      }],
      [
        { path: "d/new", content: "n" },
        { path: "d/sub/", type: "directory" },
        { path: "d/.wh..wh..opq", content: "" },
      ],
    ]);
    assert.deepEqual(await tree(root), ["/d/", "/d/new", "/d/sub/", "/other"]);
  });
});

Deno.test("unpackImage() whiteouts do not remove what the same layer wrote", async () => {
  await withRoot(async (root, tmp) => {
    await unpack(root, tmp, [[{ path: "f", content: "same layer" }, {
      path: ".wh.f",
      content: "",
    }]]);
    assert.equal(await Deno.readTextFile(`${root}/f`), "same layer");
  });
});

Deno.test("unpackImage() writes hard links and replaces a file by a directory", async () => {
  await withRoot(async (root, tmp) => {
    await unpack(root, tmp, [
      [{ path: "x", content: "file" }, { path: "orig", content: "data" }],
      [{ path: "x/", type: "directory" }, { path: "x/in", content: "i" }, {
        path: "copy",
        type: "hardlink",
        linkName: "orig",
      }],
    ]);
    assert.equal(await Deno.readTextFile(`${root}/x/in`), "i");
    assert.equal(await Deno.readTextFile(`${root}/copy`), "data");
    assert.equal((await Deno.stat(`${root}/copy`)).ino, (await Deno.stat(`${root}/orig`)).ino);
  });
});

Deno.test("applyLayer() never writes outside the root through links or ..", async () => {
  await withRoot(async (root, tmp) => {
    await Deno.mkdir(`${tmp}/outside`);
    await Deno.mkdir(root);
    const layer = tarArchive([
      { path: "escape", type: "symlink", linkName: `${tmp}/outside` },
      { path: "escape/owned", content: "bad" },
      { path: "rel", type: "symlink", linkName: "../../../../outside" },
      { path: "rel/owned2", content: "bad" },
      { path: "../../dotdot", content: "bad" },
    ]);
    await applyLayer(root, streamOf(layer));
    assert.deepEqual([...Deno.readDirSync(`${tmp}/outside`)], []);
    assert.equal(await Deno.readTextFile(`${root}${tmp}/outside/owned`), "bad");
    assert.equal(await Deno.readTextFile(`${root}/outside/owned2`), "bad");
    assert.equal(await Deno.readTextFile(`${root}/dotdot`), "bad");
  });
});

Deno.test("resolveInRoot() follows links inside the root and creates directories", async () => {
  await withRoot(async (root) => {
    await Deno.mkdir(`${root}/real`, { recursive: true });
    await Deno.symlink("/real", `${root}/abs`);
    await Deno.symlink("../../real", `${root}/real/up`);
    assert.equal(await resolveInRoot(root, "/abs/x"), `${root}/real/x`);
    assert.equal(await resolveInRoot(root, "/real/up/y"), `${root}/real/y`);
    assert.equal(await resolveInRoot(root, "/abs", { followLast: false }), `${root}/abs`);
    assert.equal(
      await resolveInRoot(root, "/abs/new/dir", { create: true }),
      `${root}/real/new/dir`,
    );
    assert.ok((await Deno.stat(`${root}/real/new/dir`)).isDirectory);
  });
});
