/**
 * The process's mapping of the database clock (src/send/departures.ts `DbClock`), from claims' round trips.
 */
import { describe, expect, it } from 'vitest';
import { DbClock } from '../src/send/departures.js';

describe('DbClock', () => {
  it('takes a claim statement\'s run time out of its round trip: a slow statement does not shift the mapping', () => {
    // The database clock is 1 000 ms ahead. A claim sent at 0 ran for 80 ms (db 1 010 to 1 090) and was answered at 100.
    const clock = new DbClock();
    clock.sample(0, 100, 1010, 1090);
    expect(clock.toLocal(2000)).toBe(1000);
    // Its start alone would have put the mapping 40 ms late, half the statement's run time.
    const startOnly = new DbClock();
    startOnly.sample(0, 100, 1010);
    expect(startOnly.toLocal(2000)).toBe(1040);
  });

  it('keeps the sample with the least uncertainty (round trip less run time) among the last claims', () => {
    const clock = new DbClock();
    clock.sample(0, 100, 1010, 1020); // uncertain by ±45 ms, offset 965
    clock.sample(200, 230, 1210, 1230); // ±5 ms, offset 1 005
    clock.sample(300, 400, 1390, 1395); // ±47.5 ms
    expect(clock.toLocal(2000)).toBe(995);
  });
});
