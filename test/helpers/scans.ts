import type { ScanInfo } from "../../src/store/index.js";

/** A scan of 192.0.2.0/24:6379 as the report tests store it; `over` changes any field. */
export function testScan(id: string, startedAt: string, over: Partial<ScanInfo> = {}): ScanInfo {
  return {
    id,
    source: "scan",
    startedAt,
    targets: "192.0.2.0/24",
    ports: "6379",
    seed: "1",
    shardCount: 1,
    options: {},
    toolVersion: "test",
    ...over,
  };
}
