// @ts-check
// The root config, plus what the benchmark scripts are: plain JavaScript run by Node (and Bun and Deno for the
// cross-runtime children) that print their results.
import root from '../eslint.config.js';

export default [
  ...root,
  {
    files: ['**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        ['console', 'process', 'performance', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'URL', 'Bun', 'Deno'].map((name) => [
          name,
          'readonly',
        ]),
      ),
    },
    rules: {
      'no-console': 'off',
      // Hot loops index arrays on purpose (what is timed is the machine, not an iterator), and effect stubs that do
      // nothing are the point of an effect-free benchmark.
      '@typescript-eslint/prefer-for-of': 'off',
      '@typescript-eslint/no-empty-function': 'off',
    },
  },
];
