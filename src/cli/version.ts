/** The version redscope reports (`--version`, the store's `scans.tool_version`). */
export const VERSION = "0.1.0";
