// ESLint: typescript-eslint's recommended rules, plus the project's own rule against parameter names of
// one or two characters (a reader should not have to look up what `o` or `sb` was), tiny one-expression
// arrow functions aside: `(s) => s.id` reads fine.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SHORT_PARAMETER = '[name=/^_?[A-Za-z0-9$]$/]';

export default tseslint.config(
  { ignores: ['dist/', '.bench-build/', '.bench/', '.conformance/', 'node_modules/', 'templates/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `let x; ... x = ...` where a closure made before the assignment reads x cannot be a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Kept as an error (issue 16): scripts/rename-short-params.mjs renamed the 365 that were left.
      'no-restricted-syntax': [
        'error',
        {
          selector: `:matches(FunctionDeclaration, FunctionExpression, ArrowFunctionExpression[body.type='BlockStatement']) > Identifier.params${SHORT_PARAMETER}`,
          message:
            'Name this parameter for what it holds (at least three characters); only one-expression arrow functions may use short names.',
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'docker/**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
      },
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.mjs'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
