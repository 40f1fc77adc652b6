/** Where downloaded intelligence (cloud ranges, geo databases, …) lives on this machine. */
import os from "node:os";
import path from "node:path";
import { userDataDir } from "../store/paths.js";

/**
 * `$REDSCOPE_INTEL_DIR`, else `$XDG_DATA_HOME/redscope/intel`, else
 * `~/.local/share/redscope/intel`. An empty or relative XDG_DATA_HOME is ignored, as the XDG Base
 * Directory spec asks; REDSCOPE_INTEL_DIR is taken as given (relative to the working directory).
 */
export function defaultIntelDir(
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
): string {
  const own = env["REDSCOPE_INTEL_DIR"];
  if (own) return path.resolve(own);
  return path.join(userDataDir(env, home), "intel");
}
