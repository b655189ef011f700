import { metrics, type Meter, type MeterProvider } from '@opentelemetry/api';
import { INSTRUMENTATION_SCOPE } from './names.js';

/**
 * Where the instruments are made: a `meter`, or a `meterProvider` to get this package's meter from. Default: the
 * global meter provider of `@opentelemetry/api` (a no-op one until an SDK registers itself).
 */
export interface InstrumentationOptions {
  /** The meter to make the instruments with. */
  readonly meter?: Meter | undefined;
  /** The meter provider to get the `@keepalive/opentelemetry` meter from (ignored when `meter` is given). */
  readonly meterProvider?: MeterProvider | undefined;
}

/**
 * What an `instrument*` function returns: stop measuring (what was counted stays counted; the instrumented object is
 * no longer watched). `Symbol.dispose` does the same, for `using`.
 */
export interface Instrumentation extends Disposable {
  /** Stops watching; later calls do nothing. */
  close(): void;
}

/** The meter of `options`, checked: a bad option throws a `TypeError` naming it and its value. */
export function meterOf(options: InstrumentationOptions | undefined, where: string): Meter {
  if (options === undefined) return metrics.getMeter(INSTRUMENTATION_SCOPE);
  if (typeof options !== 'object' || (options as unknown) === null) throw invalid(`${where} options`, options, 'an object { meter } or { meterProvider }');
  const { meter, meterProvider } = options;
  if (meter !== undefined) {
    if (!isMeter(meter)) throw invalid(`${where} options.meter`, meter, 'an OpenTelemetry Meter');
    return meter;
  }
  if (meterProvider !== undefined) {
    if (typeof meterProvider !== 'object' || (meterProvider as unknown) === null || typeof meterProvider.getMeter !== 'function') {
      throw invalid(`${where} options.meterProvider`, meterProvider, 'an OpenTelemetry MeterProvider');
    }
    return meterProvider.getMeter(INSTRUMENTATION_SCOPE);
  }
  return metrics.getMeter(INSTRUMENTATION_SCOPE);
}

function isMeter(value: unknown): value is Meter {
  const meter = value as Partial<Meter> | null;
  return (
    typeof meter === 'object' &&
    meter !== null &&
    typeof meter.createCounter === 'function' &&
    typeof meter.createHistogram === 'function' &&
    typeof meter.addBatchObservableCallback === 'function'
  );
}

/** A `TypeError` naming the option, its value's type (never the value's contents) and what was expected. */
export function invalid(option: string, value: unknown, expected: string): TypeError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return new TypeError(`Invalid ${option}: ${got} (expected ${expected})`);
}

/** One set of shared instruments per meter: observable callbacks must sum over every watched object, once. */
export function perMeter<T>(cache: WeakMap<Meter, T>, meter: Meter, make: (meter: Meter) => T): T {
  let value = cache.get(meter);
  if (value === undefined) {
    value = make(meter);
    cache.set(meter, value);
  }
  return value;
}

/** Milliseconds as seconds (the unit of every duration instrument). */
export function seconds(ms: number): number {
  return ms / 1_000;
}

/** The monotonic clock in milliseconds (`performance.now()`, in every runtime `@opentelemetry/api` runs on). */
export function monotonicMs(): number {
  return performance.now();
}
