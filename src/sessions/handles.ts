import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SandboxError } from '../errors.js';

/**
 * Sandbox handles: what sandbox_create returns and every later call passes back as `sandbox`, the
 * spec's answer to state on a stateless revision. A handle is an opaque capability, never the
 * provider's sandbox id (that id is the capability behind preview URLs: two secrets, two purposes).
 *
 * Layout, base64url after "sbx-": version | id (16 random bytes) | token tag (8) | scope tag (8) | rest |
 * MAC (16). Version 1 (local provider): rest is the host name, the only machine that holds the sandbox.
 * Version 2 (e2b, daytona, docker: sandboxes any replica can reach): rest is the sealed reference, what
 * the handle reaches (the provider's sandbox id, or a workspace name), AES-256-CTR encrypted under a key
 * derived from the handle key with the handle's random id as IV (unique per handle), so a replica that
 * never saw the handle can attach to its sandbox while the handle shows nothing of the id. The MAC
 * (HMAC-SHA256 over everything before it: encrypt-then-MAC) tells a handle this server family issued
 * from a forged or mistyped one, so an expired handle can say so; the tags bind it to the bearer token
 * and to the connection it was made in. The key is SANDBOX_HANDLE_KEY (one for every replica), else
 * one kept in the state dir (this server alone).
 *
 * Why seal the id into the handle rather than find the sandbox by a label holding a digest of the
 * handle: a replica attaches with one connect call (no vendor list, which is paginated and may lag a
 * fresh create), "not found" is the vendor's own word that the sandbox is gone, and the handle needs no
 * vendor with writable, queryable labels (E2B metadata is fixed at create).
 */

/** Who calls: a digest of its bearer token, and the connection ("stateless" for 2026-07-28 HTTP). */
export interface Caller {
  principal: string;
  scope: string;
}

export const STATELESS_SCOPE = 'stateless';
const PREFIX = 'sbx-';
const HOST_BOUND = 1;
const SEALED = 2;
const ID = 16;
const TAG = 8;
const MAC = 16;
const FIXED = 1 + ID + TAG + TAG;
/** Longer than any handle this server makes; longer input is refused before decoding. */
const MAX_HANDLE_CHARS = 300;
/** Longest sealed reference: provider ids are far shorter (E2B ~20, Daytona 36, docker 32 characters). */
const MAX_REF_BYTES = 120;
const NEW_HANDLE = 'call sandbox_create for a new one and pass its sandbox to later calls';

/** What a sealed handle reaches: a provider sandbox by id, or a named workspace. */
export type HandleRef = { sandbox: string } | { workspace: string };

export interface ParsedHandle {
  /** The random part, hex: the registry's key. */
  id: string;
  /** Sealed handles (version 2) only. */
  ref?: HandleRef;
}

/** SANDBOX_HANDLE_KEY as the 32-byte secret every replica derives alike. */
export function sharedHandleSecret(key: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(key, 'utf8'), 'sandbox-mcp', 'handle key', 32));
}

/** Mints and verifies handles; the key is read from (or first written to) the state dir. */
export class HandleCodec {
  private key?: Buffer;
  private refKey?: Buffer;
  /** Handles verified lately, per caller: a warm call checks a handle without three HMACs. */
  private readonly verified = new Map<string, ParsedHandle>();

  /**
   * `host`: set for providers whose sandboxes live on this machine only (local); their handles are
   * host-bound, the others sealed. `shared`: the secret from SANDBOX_HANDLE_KEY, else the state dir's.
   */
  constructor(
    private readonly keyFile: string,
    private readonly host: string | undefined,
    shared?: Buffer,
  ) {
    this.key = shared;
  }

  /** Whether this server's handles carry what they reach, for any replica to find (version 2). */
  get sealed(): boolean {
    return this.host === undefined;
  }

  private secret(): Buffer {
    if (this.key) return this.key;
    try {
      this.key = readFileSync(this.keyFile);
    } catch {
      mkdirSync(path.dirname(this.keyFile), { recursive: true });
      const fresh = randomBytes(32);
      try {
        writeFileSync(this.keyFile, fresh, { mode: 0o600, flag: 'wx' });
        this.key = fresh;
      } catch {
        this.key = readFileSync(this.keyFile); // another server on this state dir wrote it first
      }
    }
    chmodSync(this.keyFile, 0o600);
    return this.key;
  }

  private tag(kind: string, value: string | Buffer, length: number): Buffer {
    return createHmac('sha256', this.secret()).update(`${kind}\0`).update(value).digest().subarray(0, length);
  }

  /** A fresh random id, for a handle minted once its sandbox exists (its session is named after the id). */
  newId(): string {
    return randomBytes(ID).toString('hex');
  }

  /** `ref` (sealed handles): what the handle reaches; `id`: from newId(), else a fresh one. */
  mint(caller: Caller, opts: { id?: string; ref?: HandleRef } = {}): { handle: string; id: string } {
    const id = Buffer.from(opts.id ?? this.newId(), 'hex');
    const rest = this.sealed && opts.ref ? this.seal(id, opts.ref) : Buffer.from(this.sealed ? '' : this.host!, 'utf8');
    const payload = Buffer.concat([
      Buffer.from([this.sealed && opts.ref ? SEALED : HOST_BOUND]),
      id,
      this.tag('token', caller.principal, TAG),
      this.tag('scope', caller.scope, TAG),
      rest,
    ]);
    const mac = this.tag('handle', payload, MAC);
    return { handle: PREFIX + Buffer.concat([payload, mac]).toString('base64url'), id: id.toString('hex') };
  }

  private cipherKey(): Buffer {
    this.refKey ??= Buffer.from(hkdfSync('sha256', this.secret(), '', 'sandbox-mcp handle ref', 32));
    return this.refKey;
  }

  private seal(id: Buffer, ref: HandleRef): Buffer {
    const text = 'sandbox' in ref ? `s:${ref.sandbox}` : `w:${ref.workspace}`;
    if (Buffer.byteLength(text) > MAX_REF_BYTES) throw new Error(`sandbox reference too long: ${text.length}`);
    const c = createCipheriv('aes-256-ctr', this.cipherKey(), id);
    return Buffer.concat([c.update(text, 'utf8'), c.final()]);
  }

  private unseal(id: Buffer, sealed: Buffer): HandleRef | undefined {
    const d = createDecipheriv('aes-256-ctr', this.cipherKey(), id);
    const text = Buffer.concat([d.update(sealed), d.final()]).toString('utf8');
    if (text.startsWith('s:') && text.length > 2) return { sandbox: text.slice(2) };
    if (text.startsWith('w:') && text.length > 2) return { workspace: text.slice(2) };
    return undefined;
  }

  /** The handle's id once it is proven ours and the caller's; else a SandboxError saying which check failed. */
  verify(handle: string, caller: Caller): ParsedHandle {
    const cacheKey = `${handle}\0${caller.principal}\0${caller.scope}`;
    const hit = this.verified.get(cacheKey);
    if (hit) return hit;
    const parsed = this.check(handle, caller);
    if (this.verified.size >= 1024) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(cacheKey, parsed);
    return parsed;
  }

  private check(handle: string, caller: Caller): ParsedHandle {
    const body = handle.slice(PREFIX.length);
    const decoded =
      handle.length <= MAX_HANDLE_CHARS && handle.startsWith(PREFIX) ? Buffer.from(body, 'base64url') : undefined;
    // Only the exact text minted: base64 decoding skips stray characters, which would let many strings
    // stand for one handle.
    const raw = decoded?.toString('base64url') === body ? decoded : undefined;
    if (!raw || raw.length < FIXED + MAC || (raw[0] !== HOST_BOUND && raw[0] !== SEALED)) {
      throw new SandboxError(
        'INVALID_ARGUMENT',
        'the sandbox argument is not a sandbox handle (handles start with "sbx-" and come from sandbox_create)',
        { hint: `pass it exactly as sandbox_create returned it, or ${NEW_HANDLE}` },
      );
    }
    const payload = raw.subarray(0, raw.length - MAC);
    const sealed = raw[0] === SEALED;
    const host = sealed ? '' : payload.subarray(FIXED).toString('utf8');
    // Read before the MAC check: another host's server has another key, and this is all it can tell.
    if (host !== (this.host ?? '') || (sealed && !this.sealed)) {
      throw new SandboxError(
        'NOT_FOUND',
        host
          ? `this sandbox handle belongs to a sandbox on host "${host}" (the local provider keeps sandboxes on the machine that made them); this server runs on ${this.host ? `host "${this.host}"` : 'a cloud provider'} and cannot reach it`
          : 'this sandbox handle was made by a server on a cloud provider; this one keeps its sandboxes on this machine and cannot reach it',
        { hint: `send the call to the server that made the handle, or ${NEW_HANDLE}` },
      );
    }
    const mac = this.tag('handle', payload, MAC);
    if (!timingSafeEqual(mac, raw.subarray(raw.length - MAC))) {
      throw new SandboxError(
        'NOT_FOUND',
        'this server did not issue this sandbox handle (mistyped, altered, or made by a server with another key)',
        {
          hint: this.sealed
            ? `${NEW_HANDLE}; replicas behind one load balancer need the same SANDBOX_HANDLE_KEY`
            : NEW_HANDLE,
        },
      );
    }
    if (!timingSafeEqual(payload.subarray(1 + ID, 1 + ID + TAG), this.tag('token', caller.principal, TAG))) {
      throw new SandboxError(
        'PERMISSION_DENIED',
        'this sandbox handle was created under another bearer token, and works only with that token',
        { hint: NEW_HANDLE },
      );
    }
    const scope = payload.subarray(1 + ID + TAG, FIXED);
    if (!timingSafeEqual(scope, this.tag('scope', caller.scope, TAG))) {
      const madeStateless = timingSafeEqual(scope, this.tag('scope', STATELESS_SCOPE, TAG));
      throw new SandboxError(
        'PERMISSION_DENIED',
        caller.scope === STATELESS_SCOPE
          ? 'this sandbox handle belongs to the MCP session (or stdio connection) that created it, and works only there'
          : madeStateless
            ? 'this sandbox handle was made by a stateless (MCP 2026-07-28) request and works only in such requests, not in this session'
            : 'this sandbox handle belongs to another MCP session or connection, and works only there',
        { hint: NEW_HANDLE },
      );
    }
    const id = payload.subarray(1, 1 + ID);
    if (!sealed) return { id: id.toString('hex') };
    const ref = this.unseal(id, payload.subarray(FIXED));
    // Only a server with the key can have made it, so a bad reference is a bug, not an attack.
    if (!ref) throw new SandboxError('INTERNAL', 'this sandbox handle carries no sandbox reference');
    return { id: id.toString('hex'), ref };
  }
}

/** A session id for a handle's session: logged and used as a label, so not the handle's own bits. */
export function handleSessionId(id: string): string {
  return `handle:${createHash('sha256').update(id).digest('hex').slice(0, 24)}`;
}

export type HandleEnd = 'idle' | 'deleted' | 'connection-ended' | 'shutdown' | 'gone';

/** Why recent handles ended, so a late call learns what happened; bounded, oldest forgotten first. */
export class HandleTombstones {
  private readonly ended = new Map<string, { reason: HandleEnd; workspace?: string }>();

  constructor(private readonly max = 10_000) {}

  add(id: string, reason: HandleEnd, workspace?: string): void {
    this.ended.delete(id);
    this.ended.set(id, { reason, workspace });
    if (this.ended.size > this.max) this.ended.delete(this.ended.keys().next().value!);
  }

  has(id: string): boolean {
    return this.ended.has(id);
  }

  /** The error for a verified handle that has no live session. */
  expired(id: string, idleTimeoutS: number): SandboxError {
    const t = this.ended.get(id);
    const what = {
      idle: `this sandbox handle expired: its sandbox had no call for ${idleTimeoutS} s and was deleted`,
      deleted: 'this sandbox handle was deleted with sandbox_delete',
      'connection-ended': 'this sandbox handle expired with the MCP session that created it',
      shutdown: 'this sandbox handle expired when the server shut down',
      gone: 'this sandbox handle expired: the provider no longer has its sandbox (deleted, or ended after going unused past its timeout)',
    }[t?.reason ?? 'shutdown'];
    const message = t
      ? what
      : 'this sandbox handle has expired: its sandbox is gone (deleted, idle too long, or the server restarted since)';
    const hint = t?.workspace
      ? `call sandbox_create with workspace "${t.workspace}" for a new handle (the workspace's files are kept) and pass its sandbox to later calls`
      : `${NEW_HANDLE} (the old sandbox's files and processes are gone)`;
    return new SandboxError('SANDBOX_GONE', message, { hint });
  }
}
