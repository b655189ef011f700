import { nextRandom } from '@keepalive/core';
const { value, seed } = nextRandom(12345);
const second = nextRandom(seed).value;
