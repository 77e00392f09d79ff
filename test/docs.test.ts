import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../src/config.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('documents every option with its env var and flag', () => {
    for (const o of Object.values(OPTIONS) as { env?: string; flag?: string }[]) {
      if (o.env) expect(readme, `README lacks ${o.env}`).toContain(`\`${o.env}\``);
      if (o.flag) expect(readme, `README lacks ${o.flag}`).toContain(`\`${o.flag}\``);
    }
  });

  it('keeps the two-command quick start', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
