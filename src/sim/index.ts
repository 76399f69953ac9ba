/**
 * The Plivo simulator: an in-process HTTP server that behaves like Plivo's
 * Message API closely enough that the official SDK cannot tell the difference.
 * It is Plivo, not smsrun: nothing here imports the ledger, campaigns or the sender.
 *
 * Outcomes by the destination's last two digits: …97 undelivered (80),
 * …98 failed (90), …99 sent for ever (no receipt), else delivered (000);
 * numbers starting with 999 are refused in `invalid_number`.
 */

export { startSimulator, type Simulator } from './simulator.js';
export { maxWindowExcess, worstWindow } from './pacing.js';
export type { AcceptEntry, PacingCost, PacingOptions, WorstWindow } from './pacing.js';
export { PLIVO_LIMITS, NO_FAULTS } from './options.js';
export type { SimOptions, Faults, Limits } from './options.js';
export type { SimMessage, SimState, StateChange, MessageType, LogMode } from './message.js';
export type { ReadEntry, SimStats } from './stats.js';
export type { CallbackAttempt } from './callbacks.js';
export type { InboundAttempt, ReplyOptions } from './inbound.js';
export { outcomeFor, EXPIRED, OPTED_OUT } from './outcome.js';
export { countryIso2 } from './country.js';
export type { Outcome } from './outcome.js';
export { UNALLOCATED_PREFIX, MAX_DESTINATIONS } from './create.js';
export { SimOptionsError } from './errors.js';
