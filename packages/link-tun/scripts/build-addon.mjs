#!/usr/bin/env node
// Builds the link-tun N-API addon (build/Release/tun.node) from src/native/tun.c with node-gyp,
// against the headers of the Node that runs this script (no header download: `--nodedir` points
// at the local install when it ships include/node/node_api.h).
//
// Runs as the package's "install" script. A failed build must not fail the workspace install:
// it prints one line saying what failed and how to build by hand, and exits 0; the link then
// throws "link-tun addon not built: ..." when used.
//
//   node packages/link-tun/scripts/build-addon.mjs [--force] [--quiet]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const output = join(pkgDir, "build", "Release", "tun.node");
const sources = [join(pkgDir, "src", "native", "tun.c"), join(pkgDir, "binding.gyp")];
const force = process.argv.includes("--force");
const quiet = process.argv.includes("--quiet");
const byHand = `node ${relative(process.cwd(), join(pkgDir, "scripts", "build-addon.mjs")) || "scripts/build-addon.mjs"} --force`;

function fail(what) {
  console.log(`[link-tun] addon not built: ${what}; TUN/TAP links are unavailable until you run \`${byHand}\``);
  process.exit(0);
}

if (process.platform !== "linux") {
  if (!quiet) console.log("[link-tun] addon not built: TUN/TAP links need Linux");
  process.exit(0);
}

function upToDate() {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return sources.every((s) => statSync(s).mtimeMs <= built);
}

if (!force && upToDate()) process.exit(0);

let nodeGyp;
try {
  nodeGyp = createRequire(join(pkgDir, "package.json")).resolve("node-gyp/bin/node-gyp.js");
} catch {
  fail("node-gyp is not installed (run the workspace install first)");
}

const args = [nodeGyp, "rebuild"];
const prefix = dirname(dirname(process.execPath));
if (existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`);
else if (process.env.npm_config_nodedir) args.push(`--nodedir=${process.env.npm_config_nodedir}`);

if (!quiet) console.log("[link-tun] building the TUN/TAP addon (node-gyp)");
const r = spawnSync(process.execPath, args, {
  cwd: pkgDir,
  encoding: "utf8",
  env: { ...process.env, npm_config_loglevel: "warn" },
  timeout: 300_000,
});
const log = `${r.stdout ?? ""}${r.stderr ?? ""}`;
if (r.status !== 0 || !existsSync(output)) {
  let where = "";
  try {
    mkdirSync(join(pkgDir, "build"), { recursive: true });
    const logPath = join(pkgDir, "build", "build-addon.log");
    writeFileSync(logPath, log);
    where = ` (log: ${relative(process.cwd(), logPath)})`;
  } catch {
    // no log file, the line below still says what failed
  }
  const reason = r.error ? r.error.message : `node-gyp exited with ${r.status ?? r.signal}`;
  fail(`${reason}; it needs python3, make and a C compiler${where}`);
}
if (!quiet) console.log(`[link-tun] addon built: ${relative(process.cwd(), output)}`);
