/**
 * Errors a user can act on. Each names what went wrong and how to fix it, and carries the exit code the
 * CLI turns it into (see README, "Exit codes"). Anything else reaching the CLI is a bug and prints a
 * stack trace; these never do.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, cancelled: 3, interrupted: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class SmsrunError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad command-line usage, a bad job file, a bad CSV header: fix the input and run again. */
export class UsageError extends SmsrunError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.usage, options);
  }
}

/** Every problem found in a job file, each with its key and how to fix it. */
export class JobFileError extends UsageError {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: the job file has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
      problems.map((p) => `  - ${p}`).join('\n'));
  }
}

/** The run stopped and cannot go on by itself (credentials refused, ledger unreachable, ...). */
export class RunFailedError extends SmsrunError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.failure, options);
  }
}

export class InterruptedError extends SmsrunError {
  constructor(message: string) {
    super(message, EXIT.interrupted);
  }
}
