import { FakeSocket } from 'keepalive-test-support';

/** Bun's client socket double: the shared FakeSocket (keepalive-test-support) with Bun's ping() and terminate(). */
export class FakeBunSocket extends FakeSocket {
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminated++;
  }
}
