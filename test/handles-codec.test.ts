import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxError } from '../src/errors.js';
import { HandleCodec, HandleTombstones, STATELESS_SCOPE } from '../src/sessions/handles.js';
import { tempDir } from './helpers.js';

const state = tempDir('sbx-handles-');
afterAll(() => state.cleanup());
const keyFile = path.join(state.dir, 'handle.key');
const alice = { principal: 'token-digest-a', scope: STATELESS_SCOPE };

function refusal(fn: () => unknown): SandboxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SandboxError);
    return e as SandboxError;
  }
  throw new Error('expected the handle to be refused');
}

describe('sandbox handles', () => {
  const codec = new HandleCodec(keyFile, 'host-a');

  it('are opaque, carry at least 128 random bits, and verify for the caller that minted them', () => {
    const a = codec.mint(alice);
    const b = codec.mint(alice);
    expect(a.handle).toMatch(/^sbx-[A-Za-z0-9_-]+$/);
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.id).not.toBe(b.id);
    expect(codec.verify(a.handle, alice)).toEqual({ id: a.id });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('refuses every altered byte, and junk, without echoing it', () => {
    const { handle } = codec.mint(alice);
    const raw = Buffer.from(handle.slice(4), 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const bad = Buffer.from(raw);
      bad[i] ^= 0x01;
      const e = refusal(() => codec.verify(`sbx-${bad.toString('base64url')}`, alice));
      expect(e.message).not.toContain(bad.toString('base64url'));
    }
    for (const junk of ['', 'sbx-', 'abc', `sbx-${'A'.repeat(300)}`, 'sbx-!!!', handle.slice(0, 20)]) {
      expect(refusal(() => codec.verify(junk, alice)).message).toMatch(/not a sandbox handle|did not issue/);
    }
  });

  it('says which binding a valid handle fails: another token, another connection', () => {
    const { handle } = codec.mint(alice);
    expect(refusal(() => codec.verify(handle, { ...alice, principal: 'token-digest-b' })).message).toMatch(
      /another bearer token/,
    );
    expect(refusal(() => codec.verify(handle, { ...alice, scope: 'conn:1234' })).message).toMatch(
      /made by a stateless/,
    );
    const ofOtherSession = codec.mint({ ...alice, scope: 'conn:5678' }).handle;
    expect(refusal(() => codec.verify(ofOtherSession, { ...alice, scope: 'conn:1234' })).message).toMatch(
      /another MCP session or connection/,
    );
    const ofSession = codec.mint({ ...alice, scope: 'conn:1234' }).handle;
    expect(refusal(() => codec.verify(ofSession, alice)).message).toMatch(
      /belongs to the MCP session .* that created it/,
    );
  });

  it('names the host a local handle belongs to, and refuses handles of another key', () => {
    const { handle } = new HandleCodec(keyFile, 'host-b').mint(alice);
    const e = refusal(() => codec.verify(handle, alice));
    expect(e.message).toMatch(/on host "host-b".*this server runs on host "host-a"/);
    const cloud = new HandleCodec(keyFile, undefined).mint(alice).handle;
    expect(refusal(() => codec.verify(cloud, alice)).message).toMatch(/cloud provider/);
    const otherKey = new HandleCodec(path.join(state.dir, 'other.key'), 'host-a').mint(alice).handle;
    expect(refusal(() => codec.verify(otherKey, alice)).message).toMatch(/did not issue/);
  });

  it('tells an expired handle from one it never saw, and how to get a new one', () => {
    const t = new HandleTombstones(2);
    t.add('a', 'idle');
    t.add('b', 'deleted', 'proj');
    expect(t.expired('a', 900).message).toMatch(/no call for 900 s/);
    expect(t.expired('b', 900).describe()).toMatch(/deleted with sandbox_delete.*workspace "proj".*files are kept/);
    t.add('c', 'connection-ended');
    expect(t.expired('a', 900).describe()).toMatch(/has expired.*restarted.*sandbox_create/); // forgotten: the oldest went
  });
});
