#!/usr/bin/env node
// Makes a fresh clone ready to run: installs the pinned pnpm through npm (corepack is not used:
// its download is not available everywhere), then installs the workspace from the committed
// lockfile. Runs before `npm test`, `npm run demo` and `npm run bench`; does nothing when the
// installed tree already matches the lockfile.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const pnpmVersion = String(pkg.packageManager ?? "pnpm@9.15.9").replace(/^pnpm@/, "");
const toolsDir = join(root, ".tools");
const pnpmBin = join(toolsDir, "node_modules", "pnpm", "bin", "pnpm.cjs");
const lockfile = join(root, "pnpm-lock.yaml");
const stamp = join(root, "node_modules", ".netstack-install-stamp");

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
}

function installedPnpmVersion() {
  try {
    return JSON.parse(readFileSync(join(toolsDir, "node_modules", "pnpm", "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

function stampValue() {
  const h = createHash("sha256");
  h.update(pnpmVersion);
  h.update(process.version);
  if (existsSync(lockfile)) h.update(readFileSync(lockfile));
  h.update(readFileSync(join(root, "package.json")));
  return h.digest("hex");
}

try {
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === stampValue()) process.exit(0);

  if (installedPnpmVersion() !== pnpmVersion) {
    console.log(`[setup] installing pnpm ${pnpmVersion} into .tools/ (through npm)`);
    run("npm", ["install", "--prefix", toolsDir, "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
      `pnpm@${pnpmVersion}`], { stdio: ["ignore", "inherit", "inherit"] });
  }
  console.log("[setup] installing workspace dependencies (pnpm install)");
  const frozen = existsSync(lockfile) ? ["--frozen-lockfile"] : [];
  run(process.execPath, [pnpmBin, "install", ...frozen, "--config.confirmModulesPurge=false"], {
    env: { ...process.env, CI: process.env.CI ?? "true" },
  });
  writeFileSync(stamp, stampValue());
} catch (err) {
  console.error(`[setup] failed: ${err instanceof Error ? err.message : String(err)}`);
  console.error("[setup] needs Node >= 20 and npm with access to the npm registry.");
  process.exit(1);
}
