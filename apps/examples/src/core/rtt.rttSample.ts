import { INITIAL_RTT, roundTripTime, rttSample } from '@keepalive/core';
const fields = { ...INITIAL_RTT };
rttSample(fields, 40); // smoothed 40, variation 20
rttSample(fields, 80); // smoothed 45, variation 25
const { latestMs, smoothedMs, variationMs, minMs } = roundTripTime(fields);
console.log(latestMs, smoothedMs, variationMs, minMs); // 80 45 25 40
