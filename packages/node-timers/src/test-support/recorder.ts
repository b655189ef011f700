import type { DiagnosticFields, DiagnosticLevel } from '@keepalive/core';

/** A logger function that records every diagnostic. */
export function recorder(): {
  log: (level: DiagnosticLevel, event: string, fields: DiagnosticFields) => void;
  entries: { level: DiagnosticLevel; event: string; fields: DiagnosticFields }[];
  names: () => string[];
} {
  const entries: { level: DiagnosticLevel; event: string; fields: DiagnosticFields }[] = [];
  return {
    log: (level, event, fields) => entries.push({ level, event, fields }),
    entries,
    names: () => entries.map((e) => e.event),
  };
}
