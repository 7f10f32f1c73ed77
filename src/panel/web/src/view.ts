// What every part of the page renders from: the range, the client filter and the last answers.
import type { Report, ReportClient, Status } from './api.js';
import type { Range } from './range.js';

export interface View {
  range: Range;
  client: string | null;
  /** The range's report for every client (the filter is applied here, on the page). */
  report: Report | undefined;
  /** The clients the filter leaves. */
  clientes: ReportClient[];
  status: Status | undefined;
  /** Distinct users in the range for the filter (GET /api/v1/uniques); undefined until known. */
  usuarios: number | undefined;
}

export function narrow(report: Report | undefined, client: string | null): ReportClient[] {
  const all = report?.clientes ?? [];
  return client === null ? all : all.filter((c) => c.cliente === client);
}
