/** `smsrun suppress`'s actions: here, apart from suppress.ts, so that the CLI's wiring need not load that command. */
export const SUPPRESS_ACTIONS = ['add', 'import', 'remove', 'list', 'export'] as const;
