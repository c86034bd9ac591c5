// A job's lifecycle as an explicit state x event table (s6-supervise style): every
// combination is decided here, purely, and tested without processes. The first cause
// wins: once a reason is set, later events never change it (execa's `reason ??= ...`).
import type { JobReason } from '../../common/protocol.ts';

export type Phase =
  | 'running' // the CLI runs
  | 'terminating' // we are ending the tree: TERM, grace, KILL
  | 'sweeping' // the CLI exited on its own; we end what it left behind
  | 'finished'; // tree gone, output read: the job is answered

export type LifecycleEvent =
  | 'spawn_error' // the CLI could not be started
  | 'exit' // the CLI process exited
  | 'timeout'
  | 'memory_limit'
  | 'cancelled'
  | 'shutdown'
  | 'tree_gone'; // termination or sweep finished: nothing of the tree is left

export type Action = 'none' | 'terminate' | 'sweep' | 'finish';

export interface LifecycleState {
  phase: Phase;
  reason: JobReason | null;
}

export interface Decision extends LifecycleState {
  action: Action;
}

const STOP_EVENTS = new Set<LifecycleEvent>(['timeout', 'memory_limit', 'cancelled', 'shutdown']);

export function decide(state: LifecycleState, event: LifecycleEvent): Decision {
  const keep = (): Decision => ({ ...state, action: 'none' });
  switch (state.phase) {
    case 'running':
      if (event === 'spawn_error') return { phase: 'finished', reason: state.reason ?? 'spawn_error', action: 'finish' };
      if (event === 'exit') return { phase: 'sweeping', reason: state.reason ?? 'exit', action: 'sweep' };
      if (STOP_EVENTS.has(event)) {
        return { phase: 'terminating', reason: state.reason ?? (event as JobReason), action: 'terminate' };
      }
      return keep(); // tree_gone while the CLI runs cannot happen: ignore
    case 'terminating':
    case 'sweeping':
      // The CLI exiting mid-termination, or a second stop cause, changes nothing.
      if (event === 'tree_gone') return { phase: 'finished', reason: state.reason, action: 'finish' };
      return keep();
    case 'finished':
      return keep();
  }
}

export const INITIAL_STATE: LifecycleState = Object.freeze({ phase: 'running', reason: null });
