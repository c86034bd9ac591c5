// A job's turn and budget limits: the request's, within the operator's settings (MAX_TURNS,
// MAX_BUDGET_USD), else the settings'. Pure; a request asking more than a setting allows is
// refused before anything runs, with a message naming the setting.
import type { StartJobRequest } from '../../../common/protocol.ts';

export interface JobLimits {
  maxTurns: number | null;
  maxBudgetUsd: number | null;
}

export type LimitsDecision = { limits: JobLimits } | { error: string };

export function jobLimitsOf(request: Pick<StartJobRequest, 'maxTurns' | 'maxBudgetUsd'>, settings: JobLimits): LimitsDecision {
  const { maxTurns, maxBudgetUsd } = request;
  if (maxTurns !== undefined && settings.maxTurns !== null && maxTurns > settings.maxTurns) {
    return { error: `maxTurns (${maxTurns}) is over this service's limit, MAX_TURNS=${settings.maxTurns}` };
  }
  if (maxBudgetUsd !== undefined && settings.maxBudgetUsd !== null && maxBudgetUsd > settings.maxBudgetUsd) {
    return { error: `maxBudgetUsd (${maxBudgetUsd}) is over this service's limit, MAX_BUDGET_USD=${settings.maxBudgetUsd}` };
  }
  return { limits: { maxTurns: maxTurns ?? settings.maxTurns, maxBudgetUsd: maxBudgetUsd ?? settings.maxBudgetUsd } };
}

/** No turn or budget limit. */
export const NO_LIMITS: Readonly<JobLimits> = Object.freeze({ maxTurns: null, maxBudgetUsd: null });

/** Budgets are the CLI's cost estimates; with an OAuth token (a subscription) it may
 *  report a cost of 0, and then no budget ever trips. Said at start and in /status. */
export function budgetWarnings(maxBudgetUsd: number | null, env: { ANTHROPIC_API_KEY?: string; CLAUDE_CODE_OAUTH_TOKEN?: string }): string[] {
  const oauthOnly = (env.ANTHROPIC_API_KEY ?? '') === '' && (env.CLAUDE_CODE_OAUTH_TOKEN ?? '') !== '';
  if (maxBudgetUsd === null || !oauthOnly) return [];
  return [
    `MAX_BUDGET_USD=${maxBudgetUsd} may never trip: with CLAUDE_CODE_OAUTH_TOKEN (no ANTHROPIC_API_KEY) the CLI can report a cost of 0; budgets are the CLI's estimates`,
  ];
}
