/**
 * Pacing efficiency: does a campaign take no longer than the senders' rates force, without ever going
 * over them? Many slow senders (US long codes) and a few fast ones (toll-free), each for a minute or more.
 */
import { runCampaignOnce, type CampaignSpec } from './campaign.js';
import { ISSUE_11_BOUND_MS, JITTER_MS } from './fixtures.js';
import { figure, repeat, type BenchContext, type Benchmark, type Figure, type Section } from './lib.js';

interface Scenario { srcs: number; rate: number; batchSize: number; seconds: number }

interface Run {
  efficiency: number;
  wallS: number;
  campaignS: number;
  minimumS: number;
  firstRequestS: number;
  violatingSrcs: number;
  violatingSrcsAtBound: number;
  worstExcess: number;
  throttled: number;
  messages: number;
}

async function once(ctx: BenchContext, s: Scenario): Promise<Run> {
  const perSrc = Math.round((s.rate * s.seconds) / s.batchSize) * s.batchSize;
  const spec: CampaignSpec = { label: `pacing${s.srcs}x${s.rate}`, srcs: s.srcs, rate: s.rate, batchSize: s.batchSize, rows: perSrc * s.srcs, broadcast: true };
  return runCampaignOnce(ctx, spec, (r) => {
    // A sender paced at `rate` with one batch of burst sends batch k at k·batch/rate: its n messages
    // occupy n/rate seconds, from its first request to one batch-interval after its last.
    const sendingS = (r.lastAt - r.firstAt) / 1000 + s.batchSize / s.rate;
    const run: Run = {
      efficiency: r.messages / (s.srcs * s.rate * sendingS),
      wallS: (r.child.endedAt - r.child.startedAt) / 1000,
      campaignS: (r.drainedAt - r.child.startedAt) / 1000,
      minimumS: r.messages / (s.srcs * s.rate),
      firstRequestS: (r.firstAt - r.child.startedAt) / 1000,
      violatingSrcs: r.pacing.violatingSrcs,
      violatingSrcsAtBound: r.pacing.violatingSrcsAtBound,
      worstExcess: r.pacing.worstExcessStrict,
      throttled: r.pacing.throttled,
      messages: r.messages,
    };
    ctx.log(`  ${s.srcs} srcs × ${s.rate}/s: ${r.messages} msgs, efficiency ${run.efficiency.toFixed(3)}, last message out of Plivo's queue at ${run.campaignS.toFixed(1)} s ` +
      `(minimum ${run.minimumS.toFixed(1)} s), ${run.violatingSrcs} srcs over (${run.violatingSrcsAtBound} at ${ISSUE_11_BOUND_MS} ms), ${run.throttled} 429s`);
    return run;
  });
}

function figures(label: string, runs: Run[]): Figure[] {
  return [
    figure(runs, `${label}: messages sent`, '', (r) => r.messages, { digits: 0 }),
    figure(runs, `${label}: efficiency, messages / (srcs × rate × sending time)`, '', (r) => r.efficiency, { target: { op: '>=', value: 0.99 }, digits: 3 }),
    figure(runs, `${label}: srcs over their rate (simulator's judge, ${JITTER_MS} ms jitter allowed)`, '', (r) => r.violatingSrcs, { target: { op: '=', value: 0 }, digits: 0 }),
    figure(runs, `${label}: srcs with a request arriving > ${ISSUE_11_BOUND_MS} ms before their budget allows (issue 11)`, '', (r) => r.violatingSrcsAtBound, { target: { op: '=', value: 0 }, digits: 0 }),
    figure(runs, `${label}: worst window excess, no jitter allowed`, 'msgs', (r) => r.worstExcess, { digits: 2 }),
    figure(runs, `${label}: 429s from the account limits`, '', (r) => r.throttled, { target: { op: '=', value: 0 }, digits: 0 }),
    figure(runs, `${label}: campaign, start to last message out of Plivo's queue`, 's', (r) => r.campaignS, { digits: 1 }),
    figure(runs, `${label}: theoretical minimum N / (srcs × rate)`, 's', (r) => r.minimumS, { digits: 1 }),
    figure(runs, `${label}: campaign / minimum`, '×', (r) => r.campaignS / r.minimumS, { digits: 3 }),
    figure(runs, `${label}: smsrun process, start to exit`, 's', (r) => r.wallS, { digits: 1 }),
    figure(runs, `${label}: start to first request`, 's', (r) => r.firstRequestS, { digits: 2 }),
  ];
}

export const benchmark: Benchmark = {
  id: 'pacing',
  title: 'Pacing efficiency',
  order: 20,
  async run(ctx): Promise<Section> {
    const seconds = ctx.short ? 10 : 70;
    const slow: Scenario = { srcs: ctx.short ? 20 : 200, rate: 1, batchSize: ctx.short ? 5 : 10, seconds };
    const fast: Scenario = { srcs: 20, rate: 25, batchSize: 25, seconds };
    const slowRuns = await repeat(ctx.runs, () => once(ctx, slow));
    const fastRuns = await repeat(ctx.runs, () => once(ctx, fast));
    return {
      id: 'pacing',
      title: 'Pacing efficiency',
      command: `npm run bench -- --only pacing${ctx.short ? ' --short' : ''}`,
      what: `\`smsrun run job.json --track-for 0\` (the CLI, Postgres ledger) against the simulator with Plivo's account
limits on and each sender's queue draining at the sender's rate. One text for everyone, so recipients share bulk
requests: ${slow.srcs} srcs at ${slow.rate} msg/s with batches of ${slow.batchSize} (a request per sender every ${slow.batchSize / slow.rate} s),
and ${fast.srcs} srcs at ${fast.rate} msg/s with batches of ${fast.batchSize} (one a second), each sender getting ${seconds} s of messages.
*Efficiency* is messages / (srcs × rate × sending time), the sending time running from the first accepted request
to one batch-interval after the last (when the last batch's messages have used up their share of the rate):
1.0 is exactly the rate. *Srcs over their rate* is the simulator's judge (\`worstWindow\`, \`src/sim/pacing.ts\`):
in no window between two requests may a sender get more than rate × window + one batch; arrival times on a
loaded 2-core machine get ${JITTER_MS} ms of jitter, as in the e2e tests, and the worst excess without it is shown too.
The campaign's duration, from the process's start (ledger load included) to the last message leaving the
simulated Plivo queue, is set against the theoretical minimum N / (srcs × rate); smsrun itself exits earlier,
once the last request is accepted (tracking is cut off with \`--track-for 0\`).`,
      figures: [...figures(`${slow.srcs}×${slow.rate}/s`, slowRuns), ...figures(`${fast.srcs}×${fast.rate}/s`, fastRuns)],
      notes: NOTES,
    };
  },
};

const NOTES = `**Limits.** smsrun caused no 429. By the simulator's judge, no sender exceeded its rate in 5 of the 6 runs
recorded here. In one run at 25 msg/s, 10 of the 20 srcs had a window over rate × T + one batch even with 150 ms
of jitter allowed (worst: 6.7 messages, 270 ms of that rate): that run shared the 2 cores with a chaos test and
another benchmark (load average about 2.5), and the judge times requests when the simulator, in the benchmark's
own process, gets to read them, so a stalled simulator bunches arrivals. It did not repeat in the other two runs
(worst 2.6 and 2.4 messages with no jitter allowed, within it); rerun on a quiet machine before reading more into it.

**200 srcs at 1 msg/s misses 0.98** (0.93: the campaign's sending takes about 75 s for 70 s of messages), and
the loss is the same in every run, so it is not noise. It adds up from two rules, both by design:

- The account request bucket (burst 50, then 50/s, so that no 5 s window exceeds Plivo's 300 requests) lets
  only 50 of the 200 senders' first requests leave at once; the last sender starts (200 − 50) / 50 = 3 s after
  the first, and, being paced from its own start, finishes 3 s after it too. Plivo itself would accept all 200
  at once (300 per 5 s).
- A sender's first batch, taken from a full bucket, pays one tick back (\`scheduleOnBucket\`, so that
  rate·T + one batch holds exactly): at 1 msg/s that is 1 s once per sender.

Both are fixed costs, not a rate loss: per sender, after its start, the batches leave at the rate. Over a
70 s campaign they cost about 6 %; over an hour, about 0.1 %. 20 srcs at 25 msg/s (20 first requests, within
the burst; a tick of 50 ms) meet the target. To win the start-up seconds back for many slow senders, the
account bucket could start with Plivo's whole window (a burst of 300 that refills at 50/s only after it was
spent), or senders could be started a few at a time without counting their stagger against their rate; neither
is cheap, and neither changes a long campaign.

**Duration.** The campaign (from the process's start, the ledger load included, to the last message leaving
the simulated Plivo queue) is within a few seconds of N / (srcs × rate): the start-up (about 1 s), the stagger
above, and the first batch's payback. The smsrun process itself exits about 20 s after its last request at
20 × 25 msg/s (35 000 messages): with \`--track-for 0\` that is the end of the run, the summary and the
35 000-row report; it does not delay anyone's messages.`;
