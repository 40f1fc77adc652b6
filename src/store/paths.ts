/**
 * Where redscope's files are: the user's data (the store, the intel directory) under the XDG
 * data home, and what ships with the installation (data/: the CVE table, recorded replies, the
 * dashboard's assets), found from src/ (run with tsx) and dist/src/ (compiled) alike.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `$XDG_DATA_HOME/redscope`, else `~/.local/share/redscope`. An empty or relative XDG_DATA_HOME
 * is ignored, as the XDG Base Directory spec asks.
 */
export function userDataDir(
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  const xdg = env.XDG_DATA_HOME;
  const dataHome = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, ".local", "share");
  return path.join(dataHome, "redscope");
}

/** The installation's data/ folder: the repository's, or the package's. */
const INSTALLED_DATA = ((): string | undefined => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++) {
    dir = path.dirname(dir);
    const candidate = path.join(dir, "data");
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(candidate)) {
      return candidate;
    }
  }
  return undefined;
})();

/** `data/<sub>` of the installation; throws when it is not there (a broken installation). */
export function installedData(sub: string): string {
  const p = INSTALLED_DATA && path.join(INSTALLED_DATA, sub);
  if (p === undefined || !fs.existsSync(p)) {
    throw new Error(`data/${sub} not found next to the redscope installation`);
  }
  return p;
}
