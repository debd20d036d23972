import assert from "node:assert/strict";
import { ImageError } from "./errors.ts";
import { parsePax, readTar, type TarEntry } from "./tar.ts";
import { streamOf, tarArchive } from "./testing.ts";

const decoder = new TextDecoder();

async function readAll(bytes: Uint8Array, chunk = 700) {
  const out: { entry: TarEntry; text: string }[] = [];
  for await (const { entry, body } of readTar(streamOf(bytes, chunk))) {
    let text = "";
    for await (const c of body) text += decoder.decode(c, { stream: true });
    out.push({ entry, text });
  }
  return out;
}

Deno.test("readTar() reads files, directories, links and modes across odd chunk sizes", async () => {
  const big = "x".repeat(1500);
  const tar = tarArchive([
    { path: "etc/", type: "directory", mode: 0o750 },
    { path: "etc/motd", content: "hello\n", mode: 0o4755, uid: 7, gid: 8 },
    { path: "big", content: big },
    { path: "link", type: "symlink", linkName: "/etc/motd" },
    { path: "hard", type: "hardlink", linkName: "etc/motd" },
  ]);
  for (const chunk of [1, 511, 512, 700, 100_000]) {
    const items = await readAll(tar, chunk);
    assert.deepEqual(items.map((i) => [i.entry.path, i.entry.type]), [
      ["etc/", "directory"],
      ["etc/motd", "file"],
      ["big", "file"],
      ["link", "symlink"],
      ["hard", "hardlink"],
    ]);
    assert.equal(items[0].entry.mode, 0o750);
    assert.equal(items[1].text, "hello\n");
    assert.equal(items[1].entry.mode, 0o4755);
    assert.deepEqual([items[1].entry.uid, items[1].entry.gid], [7, 8]);
    assert.equal(items[2].text, big);
    assert.equal(items[3].entry.linkName, "/etc/motd");
    assert.equal(items[4].entry.linkName, "etc/motd");
  }
});

Deno.test("readTar() skips bodies the caller does not read", async () => {
  const tar = tarArchive([{ path: "a", content: "a".repeat(3000) }, { path: "b", content: "b" }]);
  const paths: string[] = [];
  for await (const { entry } of readTar(streamOf(tar))) paths.push(entry.path);
  assert.deepEqual(paths, ["a", "b"]);
});

Deno.test("readTar() applies pax path records to long names", async () => {
  const long = `${"d".repeat(80)}/${"f".repeat(80)}`;
  const items = await readAll(tarArchive([{ path: long, content: "long" }]));
  assert.equal(items.length, 1);
  assert.equal(items[0].entry.path, long);
  assert.equal(items[0].text, "long");
});

async function hostTar(dir: string, format: string): Promise<Uint8Array> {
  const out = await new Deno.Command("tar", {
    args: ["-C", dir, `--format=${format}`, "-cf", "-", "."],
    stdout: "piped",
  }).output();
  assert.ok(out.success, `tar --format=${format}`);
  return out.stdout;
}

Deno.test("readTar() reads GNU long names and pax archives written by GNU tar", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const long = `${"n".repeat(120)}/${"m".repeat(120)}`;
    await Deno.mkdir(`${dir}/${long}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${long}/file`, "deep");
    await Deno.symlink("t".repeat(150), `${dir}/longlink`);
    for (const format of ["gnu", "pax"]) {
      const items = await readAll(await hostTar(dir, format));
      const file = items.find((i) => i.entry.path === `./${long}/file`);
      assert.ok(file, `${format}: ${items.map((i) => i.entry.path).join(", ")}`);
      assert.equal(file.text, "deep");
      const link = items.find((i) => i.entry.path === "./longlink");
      assert.equal(link?.entry.linkName, "t".repeat(150), format);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTar() joins the ustar name prefix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${"p".repeat(90)}/${"q".repeat(50)}`;
    await Deno.mkdir(`${dir}/${path}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}/file`, "prefixed");
    const items = await readAll(await hostTar(dir, "ustar"));
    assert.equal(items.find((i) => i.entry.path === `./${path}/file`)?.text, "prefixed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTar() rejects bad checksums and truncated archives", async () => {
  const tar = tarArchive([{ path: "a", content: "abc" }]);
  const bad = tar.slice();
  bad[0] ^= 1;
  await assert.rejects(readAll(bad), (e) => e instanceof ImageError && /checksum/.test(e.message));
  await assert.rejects(readAll(tar.slice(0, 514)), ImageError);
});

Deno.test("parsePax() reads length-prefixed records", () => {
  const rec = (k: string, v: string) => {
    const rest = ` ${k}=${v}\n`;
    return `${rest.length + String(rest.length + 2).length}${rest}`;
  };
  const text = rec("path", "a/b c") + rec("uid", "1000");
  assert.deepEqual(parsePax(new TextEncoder().encode(text)), { path: "a/b c", uid: "1000" });
});
