/**
 * Thrown at construction when an option is invalid (spec B1). The message
 * names the option and the value, and both are kept as fields so callers can
 * report them without parsing the message.
 *
 * @example
 * ```ts
 * import { defineSessionConfig, KeepaliveOptionError } from '@keepalive/core';
 * try {
 *   defineSessionConfig({ heartbeatIntervalMs: -1 });
 * } catch (error) {
 *   if (error instanceof KeepaliveOptionError) console.error(error.option, error.value);
 * }
 * ```
 */
export class KeepaliveOptionError extends RangeError {
  /** The name of the offending option, e.g. `heartbeatIntervalMs`. */
  readonly option: string;
  /** The value that was refused. */
  readonly value: unknown;
  /** What was expected instead, e.g. `a finite number of milliseconds in (0, 2147483647]`. */
  readonly expectation: string;

  constructor(option: string, value: unknown, expectation: string) {
    super(`Invalid option ${option}: ${describeValue(value)} (expected ${expectation})`);
    this.name = 'KeepaliveOptionError';
    this.option = option;
    this.value = value;
    this.expectation = expectation;
  }
}

/** Renders a refused value for an error message without dumping large objects. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === null || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an ${typeof value}`;
}

/**
 * The largest duration any option accepts: 2^31 - 1 ms (about 24.8 days),
 * the longest delay a JavaScript timer can hold. Anything longer is absurd
 * for a keep-alive and would silently fire at once on most runtimes.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** Validates a duration option: finite, > 0 and <= {@link MAX_DURATION_MS}. */
export function checkDuration(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_DURATION_MS) {
    throw new KeepaliveOptionError(option, value, `a finite number of milliseconds in (0, ${MAX_DURATION_MS}]`);
  }
  return value;
}

/** Validates an optional duration option: `null` (off) or a valid duration. */
export function checkOptionalDuration(option: string, value: unknown): number | null {
  return value === null ? null : checkDuration(option, value);
}

/** Validates a boolean option. */
export function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new KeepaliveOptionError(option, value, 'true or false');
  return value;
}

/** Validates an integer option within [min, max]. */
export function checkInteger(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new KeepaliveOptionError(option, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/** Validates a finite number within [min, max]. */
export function checkNumber(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new KeepaliveOptionError(option, value, `a finite number in [${min}, ${max}]`);
  }
  return value;
}

/**
 * Refuses option keys that are not known, so a typo such as
 * `heartbeatIntervalMS` fails loudly instead of silently using a default.
 * The expectation ends with `did you mean "heartbeatIntervalMs"?` naming the
 * first known key at most two edits away, case ignored (Levenshtein distance
 * <= 2: `heartbeatInterval`, missing its `Ms`, is close too). The regular
 * expression reads the known key, a line break, then the given key: three runs
 * that match case-insensitively around at most two one-character edits. The
 * known key comes first so that backtracking is bounded by its length, not by
 * the given key's; a key with a line break matches nothing.
 */
export function checkKnownKeys(options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = known.find((name) => /^(.*).?(.*).?(.*)\n\1.?\2.?\3$/i.test(name + '\n' + key));
      throw new KeepaliveOptionError(key, (options as Record<string, unknown>)[key], `a known ${what} option: ${known.join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`);
    }
  }
}

/** Checks one option's value (named `option` in errors) and returns it as the config holds it; throws {@link KeepaliveOptionError}. */
export type OptionCheck<V> = (option: string, value: unknown) => V;

/**
 * A table of options (B1): for each key of the config `T`, its default and its check. One table per options group;
 * {@link checkOptions} is the one checker over every table.
 */
export type OptionSchema<T> = { readonly [K in keyof T]-?: readonly [fallback: T[K], check: OptionCheck<T[K]>] };

/**
 * Validates `options` against `schema` once (B1): unknown keys are refused (naming the nearest known one), each
 * absent option takes its default, and each value is checked; errors name the option and the value. Returns the
 * values (not frozen: the caller adds what it derives and freezes).
 */
export function checkOptions<T>(options: object, schema: OptionSchema<T>, what: string): T {
  checkKnownKeys(options, Object.keys(schema), what);
  const config: Record<string, unknown> = {};
  for (const [key, [fallback, check]] of Object.entries<readonly [unknown, OptionCheck<unknown>]>(schema)) config[key] = check(key, optionOr(options, key, fallback));
  return config as T;
}

/** An {@link OptionCheck} for an integer in [min, max]. */
export const integerIn =
  (min: number, max: number): OptionCheck<number> =>
  (option, value) =>
    checkInteger(option, value, min, max);

/** An {@link OptionCheck} for a finite number in [min, max]. */
export const numberIn =
  (min: number, max: number): OptionCheck<number> =>
  (option, value) =>
    checkNumber(option, value, min, max);

/** Reads an option, falling back to its default when it is absent (undefined). */
export function optionOr(options: object, key: string, fallback: unknown): unknown {
  const value = (options as Record<string, unknown>)[key];
  return value === undefined ? fallback : value;
}

/**
 * Validates a nested group of options: any {@link KeepaliveOptionError}
 * thrown by `validate` is rethrown with the option's full path, so a bad
 * `reconnect: { maxDelayMs: -1 }` is reported as `reconnect.maxDelayMs`.
 * A group that is not an object is refused under its own name.
 *
 * @example
 * ```ts
 * import { defineReconnectConfig, nestedOptions } from '@keepalive/core';
 * const reconnect = nestedOptions('reconnect', { maxDelayMs: 5_000 }, defineReconnectConfig);
 * console.log(reconnect.maxDelayMs); // 5000
 * ```
 */
export function nestedOptions<O extends object, T>(path: string, options: O | undefined, validate: (options: O) => T): T {
  const given: unknown = options ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new KeepaliveOptionError(path, given, `an object of ${path} options`);
  }
  try {
    return validate(given as O);
  } catch (error) {
    if (error instanceof KeepaliveOptionError && !error.option.startsWith(`${path}.`)) {
      throw new KeepaliveOptionError(`${path}.${error.option}`, error.value, error.expectation);
    }
    throw error;
  }
}
