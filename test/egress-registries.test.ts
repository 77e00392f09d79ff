import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverRegistries } from '../src/egress/registries.js';
import { tempDir } from './helpers.js';

describe('egress default allow list: the registries this host is set to use', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());

  it("reads npm's registry, pip's index settings and apt's enabled sources", async () => {
    const apt = path.join(t.dir, 'apt');
    mkdirSync(path.join(apt, 'sources.list.d'), { recursive: true });
    writeFileSync(
      path.join(apt, 'sources.list'),
      '# deb http://commented.test/debian main\ndeb [arch=amd64 signed-by=/k.gpg] http://deb.mirror.test/debian bookworm main\n',
    );
    writeFileSync(
      path.join(apt, 'sources.list.d', 'extra.sources'),
      'Types: deb\nURIs: https://a.mirror.test/debian https://b.mirror.test/x\nSuites: stable\n',
    );
    writeFileSync(path.join(apt, 'sources.list.d', 'off.list.disabled'), 'deb http://disabled.test/ stable main\n');
    writeFileSync(path.join(apt, 'sources.list.d', 'local.list'), 'deb file:///srv/repo ./\n');
    const pipConf = path.join(t.dir, 'pip.conf');
    writeFileSync(
      pipConf,
      '[global]\nextra-index-url =\n    https://extra.mirror.test/simple\n    file:///opt/wheels\n',
    );
    const found = await discoverRegistries(
      {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: t.dir,
        npm_config_registry: 'https://npm.mirror.test/',
        PIP_INDEX_URL: 'https://pypi.mirror.test/simple',
        PIP_CONFIG_FILE: pipConf,
      },
      apt,
    );
    expect(found.npmRegistry).toBe('https://npm.mirror.test/');
    expect(found.hosts).toEqual(
      expect.arrayContaining([
        'npm.mirror.test',
        'pypi.mirror.test',
        'extra.mirror.test',
        'deb.mirror.test',
        'a.mirror.test',
        'b.mirror.test',
      ]),
    );
    expect(found.hosts).not.toContain('disabled.test');
    expect(found.hosts).not.toContain('commented.test');
    expect(found.sources).toEqual(
      expect.arrayContaining([
        { tool: 'npm', url: 'https://npm.mirror.test/' },
        { tool: 'apt', url: 'https://a.mirror.test/debian' },
      ]),
    );
  });
});
