// Types for the parts of tools/wire-probe.mjs the conformance suite uses.
export interface ProbeReply {
  frame: 'raw' | 'method' | 'header' | 'body' | 'heartbeat';
  channel?: number;
  method?: string;
  replyCode?: number;
  replyText?: string;
  classId?: number;
  methodId?: number;
  hex?: string;
  atMs: number;
  [key: string]: unknown;
}
export interface ProbeStep {
  step: string;
  replies: ProbeReply[];
  closed: { byServer: boolean; afterMs?: number; how?: string; waitedMs?: number };
  clientSentCloseOk?: boolean;
}
export interface ProbeResult {
  name: string;
  description: string;
  steps: ProbeStep[];
  details?: unknown;
  error?: string;
  durationMs: number;
}
export interface ProbeScenario {
  name: string;
  description: string;
  run(ctx: unknown): Promise<void>;
}
export const SCENARIOS: ProbeScenario[];
export function runScenario(scenario: ProbeScenario, host: string, port: number): Promise<ProbeResult>;
