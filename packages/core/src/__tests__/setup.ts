import fc from 'fast-check';

// Property runs: 1,000 per property by default; `test:deep` sets FC_NUM_RUNS=100000.
const runs = Number(process.env.FC_NUM_RUNS ?? '1000');
fc.configureGlobal({ numRuns: Number.isInteger(runs) && runs > 0 ? runs : 1000 });
