import { afterAll, describe, expect, test } from 'vitest';
import { maxWindowExcess, startSimulator, worstWindow, type AcceptEntry, type Simulator } from '../src/sim/index.js';

// maxWindowExcess judges smsrun's pacing; these tests pin down what it
// accepts and what it catches, on hand-made logs and on a real acceptLog.

const T0 = 1_700_000_000_000; // epoch ms, as in a real acceptLog
const entry = (atMs: number, count: number, units = count, src = 'A'): AcceptEntry => ({ src, at: T0 + atMs, count, units });

describe('maxWindowExcess', () => {
  test('an evenly paced log scores exactly 0, whatever the request sizes', () => {
    // 10/s: a request of n messages is followed by a wait of n × 100 ms.
    const sizes = [1, 5, 2, 10, 3, 1, 7];
    let t = 0;
    const log = sizes.map((n) => {
      const e = entry(t, n);
      t += n * 100;
      return e;
    });
    expect(maxWindowExcess(log, 'A', 10, 'messages')).toBe(0);
    expect(worstWindow(log, 'A', 10, 'messages')?.excess).toBe(0);
  });

  test('a log slower than the rate still scores 0 (the largest request bounds every window of one)', () => {
    const log = [entry(0, 4), entry(1000, 4), entry(5000, 4)];
    expect(maxWindowExcess(log, 'A', 10, 'messages')).toBe(0);
  });

  test('a burst is caught, and the worst window says where', () => {
    // 1/s, but three single sends within 10 ms.
    const log = [entry(0, 1), entry(5000, 1), entry(5005, 1), entry(5010, 1), entry(8000, 1)];
    const worst = worstWindow(log, 'A', 1, 'messages');
    expect(worst?.excess).toBeCloseTo(2 - 0.01, 6);
    expect(worst).toMatchObject({ fromAt: T0 + 5000, toAt: T0 + 5010, sent: 3, requests: 3 });
    expect(worst?.allowed).toBeCloseTo(1.01, 9);
  });

  test('catching up after a stall is caught', () => {
    // 2/s for 2 s, a 3 s stall, then 6 messages in the next 1 s "to catch up".
    const log = [0, 500, 1000, 1500, 4500, 4666, 4833, 5000, 5166, 5333].map((at) => entry(at, 1));
    expect(maxWindowExcess(log, 'A', 2, 'messages')).toBeGreaterThan(2);
  });

  test('units and messages are judged separately', () => {
    // 1 message of 3 units every second: fine at 1 message/s, three times too fast at 1 unit/s.
    const log = [0, 1000, 2000, 3000].map((at) => entry(at, 1, 3));
    expect(maxWindowExcess(log, 'A', 1, 'messages')).toBe(0);
    expect(maxWindowExcess(log, 'A', 1, 'units')).toBeCloseTo(6, 6);
    expect(maxWindowExcess(log, 'A', 3, 'units')).toBe(0);
  });

  test('only the given sender is judged; null judges all senders together', () => {
    const log = [entry(0, 1, 1, 'A'), entry(2, 1, 1, 'B'), entry(1000, 1, 1, 'A'), entry(1002, 1, 1, 'B')];
    expect(maxWindowExcess(log, 'A', 1, 'messages')).toBe(0);
    expect(maxWindowExcess(log, 'B', 1, 'messages')).toBe(0);
    // Together: 4 sends in 1002 ms at 1/s with a burst of 1.
    expect(maxWindowExcess(log, null, 1, 'messages')).toBeCloseTo(4 - 1.002 - 1, 9);
  });

  test('toleranceMs absorbs arrival jitter but not a real burst', () => {
    // 10/s with one request arriving 3 ms early.
    const jittered = [entry(0, 1), entry(100, 1), entry(197, 1), entry(300, 1)];
    expect(maxWindowExcess(jittered, 'A', 10, 'messages')).toBeGreaterThan(0);
    expect(maxWindowExcess(jittered, 'A', 10, 'messages', { toleranceMs: 5 })).toBeLessThanOrEqual(0);
    const burst = [entry(0, 1), entry(10, 1), entry(20, 1)];
    expect(maxWindowExcess(burst, 'A', 10, 'messages', { toleranceMs: 5 })).toBeGreaterThan(1);
  });

  test('entries out of order are sorted; an empty log scores 0', () => {
    const log = [entry(2000, 1), entry(0, 1), entry(1000, 1)];
    expect(maxWindowExcess(log, 'A', 1, 'messages')).toBe(0);
    expect(maxWindowExcess([], 'A', 1, 'messages')).toBe(0);
    expect(worstWindow([], 'A', 1, 'messages')).toBeNull();
    expect(() => maxWindowExcess(log, 'A', 0, 'messages')).toThrow(RangeError);
  });

  test('agrees with the brute force over every window on random logs', () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 50; trial++) {
      let t = 0;
      const log = Array.from({ length: 30 }, () => {
        t += rand() * 400;
        const n = 1 + Math.floor(rand() * 4);
        return entry(t, n, n * (1 + Math.floor(rand() * 3)));
      });
      for (const cost of ['messages', 'units'] as const) {
        const c = (e: AcceptEntry) => (cost === 'units' ? e.units : e.count);
        const burst = Math.max(...log.map(c));
        let brute = -Infinity;
        for (let i = 0; i < log.length; i++) {
          let sent = 0;
          for (let j = i; j < log.length; j++) {
            sent += c(log[j] as AcceptEntry);
            const len = (log[j] as AcceptEntry).at - (log[i] as AcceptEntry).at;
            brute = Math.max(brute, sent - (5 * len) / 1000 - burst);
          }
        }
        expect(maxWindowExcess(log, 'A', 5, cost)).toBeCloseTo(brute, 6);
      }
    }
  });
});

describe('acceptLog', () => {
  let sim: Simulator;
  afterAll(async () => {
    await sim.close();
  });

  test('records one entry per accepted send with its sender, arrival time, count and units', async () => {
    sim = await startSimulator({ mps: 1000, deliveryDelayMs: [1, 2], seed: 5 });
    const auth = 'Basic ' + Buffer.from(`${sim.authId}:${sim.authToken}`).toString('base64');
    const post = (body: object) =>
      fetch(`${sim.url}/v1/Account/${sim.authId}/Message/`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const before = Date.now();
    await post({ src: '14155550100', dst: '14155550101<14155550102<9990000000', text: 'a'.repeat(161) });
    await post({ src: 'ACME', dst: '14155550103', text: 'x' });
    await post({ src: 'ACME', dst: '123', text: 'refused' });
    const log = sim.acceptLog();
    expect(log).toEqual([
      { src: '14155550100', at: expect.any(Number), count: 2, units: 4 },
      { src: 'ACME', at: expect.any(Number), count: 1, units: 1 },
    ]);
    expect(log[0]?.at).toBeGreaterThanOrEqual(before - 1);
    expect(log[0]?.at).toBeLessThanOrEqual(log[1]?.at ?? 0);
  });
});
