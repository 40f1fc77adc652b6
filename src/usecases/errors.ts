/** Problems the user must fix (a flag, a file, a target): one line, exit status 2. */
export class ConfigError extends Error {}
