// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Purity rules for @keepalive/core (spec B3): the core reads no clock, starts
 * no timer, draws no random number, touches no process or global state and
 * imports nothing from Node. Time and randomness arrive as inputs.
 */
const impureGlobals = [
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'requestAnimationFrame',
  'performance',
  'process',
  'globalThis',
  'global',
  'window',
  'self',
  'Date',
  'crypto',
  'console',
  'fetch',
  'Bun',
  'Deno',
].map((name) => ({
  name,
  message: `@keepalive/core is pure (spec B3): '${name}' is not allowed. Take time and randomness as inputs.`,
}));

const coreSources = ['packages/core/src/**/*.ts'];
const testFiles = ['**/*.test.ts', '**/*.spec.ts', '**/test/**/*.ts', '**/test-support/**/*.ts', '**/__tests__/**/*.ts'];

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/coverage/**', '**/node_modules/**', '**/.turbo/**', '**/*.config.*', '**/docs/api/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Plain JavaScript fixtures and scripts: linted without type information.
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { process: 'readonly', console: 'readonly', performance: 'readonly', setTimeout: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
  },
  {
    // Release tooling: command-line scripts in plain JavaScript, type-checked by tsc (checkJs), so no-undef is moot.
    files: ['tools/**/*.mjs'],
    rules: { 'no-console': 'off', 'no-undef': 'off' },
  },
  {
    // Smoke scripts (packages/*/smoke/*.mjs) are plain JavaScript run against the packed tarballs on Node, Bun and
    // Deno; no tsconfig covers them, so they get the untyped rules.
    files: ['**/smoke/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: Object.fromEntries(
        ['console', 'process', 'performance', 'setTimeout', 'clearTimeout', 'URL', 'Bun', 'Deno'].map((name) => [name, 'readonly']),
      ),
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-console': 'off' },
  },
  {
    // Pages bundled for the browser by the browser tests (packages/browser/fixtures).
    files: ['packages/browser/fixtures/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', URLSearchParams: 'readonly', performance: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
    rules: { 'no-console': 'off' },
  },
  {
    // Browser scripts served as-is (the demo dashboard).
    files: ['**/dashboard/**/*.js'],
    languageOptions: {
      globals: { window: 'readonly', document: 'readonly', location: 'readonly', WebSocket: 'readonly', URLSearchParams: 'readonly', setTimeout: 'readonly', JSON: 'readonly' },
    },
  },
  {
    files: testFiles,
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
      'no-console': 'off',
    },
  },
  {
    files: coreSources,
    ignores: testFiles,
    rules: {
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Randomness arrives as an input (spec B3).' },
        { object: 'Date', property: 'now', message: 'Time arrives in events (spec B3).' },
        { object: 'performance', property: 'now', message: 'Time arrives in events (spec B3).' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: '@keepalive/core imports nothing from Node (spec B3).' },
            { regex: '^(?!\\.)', message: '@keepalive/core has no runtime dependencies: relative imports only.' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Program > VariableDeclaration[kind!="const"], ExportNamedDeclaration > VariableDeclaration[kind!="const"]',
          message: 'No module-level mutable state in @keepalive/core (spec B3).',
        },
        {
          selector:
            ':matches(Program, ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > :matches(ArrayExpression, ObjectExpression, NewExpression)',
          message: 'Module-level objects in @keepalive/core must be frozen: wrap them in Object.freeze(...) (spec B3).',
        },
        {
          selector: 'ClassDeclaration PropertyDefinition[static=true]',
          message: 'No static (shared) class state in @keepalive/core (spec B3).',
        },
      ],
    },
  },
);
