// The browser tests (the demo dashboard, keepalive-browser) drive Debian's Chromium with playwright-core (no browser download).
// On a fresh Debian machine run as root, install it with apt-get when it is missing;
// elsewhere, say exactly what is needed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(path)) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    process.stderr.write(`Chromium is missing at ${path}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.\n`);
    process.exit(1);
  }
  process.stdout.write('Installing Debian chromium for the browser test (apt-get)...\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env, timeout: 300_000 });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env, timeout: 600_000 });
}
