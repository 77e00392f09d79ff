import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxError } from '../../src/errors.js';
import { AgentConnection, type AgentProcess } from '../../src/providers/local/agent-client.js';
import { FrameReader, frameHeader, type Frame } from '../../src/agent/frames.js';
import { BoundedLines } from '../../src/providers/local/bounded-lines.js';

/**
 * The server's end of the agent channel, fed bytes a hostile sandbox could write to its agent's
 * stdout: nothing may reach Object.prototype, nothing may be buffered without bound, and a sandbox
 * that breaks the protocol is killed while other connections go on.
 */

const proto = Object.prototype as Record<string, unknown>;
afterEach(() => {
  for (const k of ['x', 'polluted', 'y']) delete proto[k];
});

const limits = { maxLineBytes: 1 << 20, maxBodyBytes: 1 << 20, binFields: ['result.data', 'result.text'] };

function reader() {
  const messages: Frame[] = [];
  const errors: string[] = [];
  const r = new FrameReader(
    (m) => messages.push(m),
    (e) => errors.push(e),
    limits,
  );
  return { r, messages, errors };
}

describe('FrameReader with hostile input', () => {
  it('never writes through __proto__ (or any $bin it was not told to accept)', () => {
    for (const field of [
      '__proto__.x',
      '__proto__',
      'constructor.prototype.x',
      'result.__proto__',
      'data',
      'result.text.x',
    ]) {
      const { r, messages, errors } = reader();
      r.push(
        Buffer.from(`{"$bin":${JSON.stringify(field)},"$len":5,"result":{}}\nhello{"id":1,"ok":true,"result":{}}\n`),
      );
      expect(proto.x, field).toBeUndefined();
      expect(({} as Record<string, unknown>).x, field).toBeUndefined();
      expect(errors, field).toHaveLength(1);
      expect(messages, field).toEqual([]);
    }
  });

  it('keeps a "__proto__" key of a message as plain data', () => {
    const { r, messages, errors } = reader();
    r.push(Buffer.from('{"id":1,"ok":true,"__proto__":{"polluted":1},"result":{"__proto__":{"polluted":2}}}\n'));
    expect(errors).toEqual([]);
    expect(messages).toHaveLength(1);
    expect(proto.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a $len over the body cap at once, buffering nothing for it', () => {
    const { r, messages, errors } = reader();
    r.push(Buffer.from('{"$bin":"result.data","$len":100000000000,"result":{}}\n'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/\$len/);
    // Whatever follows is ignored: the stream cannot line up again.
    r.push(Buffer.alloc(4 << 20, 0x61));
    r.push(Buffer.from('{"id":2,"ok":true,"result":{}}\n'));
    expect(messages).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('refuses bad $len values and $bin without $len', () => {
    for (const header of ['"$len":-1', '"$len":1.5', '"$len":"5"', '"$len":null', '"$len":1e400']) {
      const { r, errors } = reader();
      r.push(Buffer.from(`{"$bin":"result.data",${header},"result":{}}\n`));
      expect(errors, header).toHaveLength(1);
    }
    const { r, errors } = reader();
    r.push(Buffer.from('{"$bin":"result.data","result":{}}\n'));
    expect(errors).toHaveLength(1);
  });

  it('stops at a line longer than the cap, even without a newline', () => {
    const { r, errors } = reader();
    for (let i = 0; i < 3; i++) r.push(Buffer.alloc(512 * 1024, 0x61));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/longer than/);
    const long = reader();
    long.r.push(Buffer.concat([Buffer.alloc(2 << 20, 0x20), Buffer.from('{}\n')]));
    expect(long.errors).toHaveLength(1);
  });

  it('refuses lines that are not JSON objects', () => {
    for (const line of ['not json', '5', 'null', '[1,2]', '"text"', 'true']) {
      const { r, errors, messages } = reader();
      expect(() => r.push(Buffer.from(`${line}\n`))).not.toThrow();
      expect(errors, line).toHaveLength(1);
      expect(messages, line).toEqual([]);
    }
  });

  it('still decodes honest frames split anywhere', () => {
    const body = Buffer.from('a\nb\0c');
    const stream = Buffer.concat([
      Buffer.from(frameHeader({ id: 1, ok: true, result: { size: 5 } }, { field: 'result.data', data: body })),
      body,
      Buffer.from('{"id":2,"ok":true,"result":{}}\n'),
    ]);
    const { r, messages, errors } = reader();
    for (const b of stream) r.push(Buffer.from([b]));
    expect(errors).toEqual([]);
    expect(messages).toHaveLength(2);
    expect(((messages[0]!.result as Record<string, unknown>).data as Buffer).equals(body)).toBe(true);
  });
});

class FakeAgent extends EventEmitter {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly requests: Record<string, unknown>[] = [];
  killedWith?: string;

  constructor() {
    super();
    this.stdin.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n').filter(Boolean))
        this.requests.push(JSON.parse(line) as Record<string, unknown>);
    });
  }

  kill(signal?: NodeJS.Signals | number): boolean {
    this.killedWith = String(signal);
    setImmediate(() => this.emit('exit', null, signal));
    return true;
  }

  send(text: string | Buffer): void {
    this.stdout.write(text);
  }
}

const silent = pino({ level: 'silent' });

async function connect(maxOutputBytes = 1024) {
  const fake = new FakeAgent();
  const exits: string[] = [];
  const conn = new AgentConnection(fake as unknown as AgentProcess, silent, (r) => exits.push(r), { maxOutputBytes });
  fake.send('{"ready":true,"pid":2}\n');
  await conn.ready;
  return { fake, conn, exits };
}

const tick = () => new Promise((r) => setImmediate(r));

async function expectStoppedForProtocol(fake: FakeAgent, conn: AgentConnection, pending: Promise<unknown>) {
  const hung = new Promise((r) => setTimeout(() => r(new Error('the call got no answer within 5 s')), 5000).unref());
  const err = await Promise.race([
    pending.then(
      () => undefined,
      (e: unknown) => e,
    ),
    hung,
  ]);
  expect(err).toBeInstanceOf(SandboxError);
  expect((err as SandboxError).code).toBe('SANDBOX_GONE');
  expect((err as SandboxError).message).toMatch(/broke the agent protocol and was stopped/);
  expect(fake.killedWith).toBe('SIGKILL');
  expect(conn.alive).toBe(false);
  expect(conn.protocolViolation).toMatch(/broke the agent protocol/);
}

describe('AgentConnection with a hostile agent', () => {
  it('kills a sandbox that sends a __proto__ body, and nothing reaches Object.prototype', async () => {
    const { fake, conn } = await connect();
    const pending = conn.call('fs.stat', { path: 'a' });
    fake.send('{"$bin":"__proto__.x","$len":5}\nhello');
    await expectStoppedForProtocol(fake, conn, pending);
    expect(proto.x).toBeUndefined();
    // Later calls fail at once, with the same reason.
    await expect(conn.call('ping')).rejects.toThrow(/broke the agent protocol/);
  });

  it('kills a sandbox that announces a 100 GB body', async () => {
    const { fake, conn } = await connect();
    const pending = conn.call('fs.read', { path: 'a' });
    fake.send('{"id":1,"ok":true,"result":{"size":1},"$bin":"result.data","$len":100000000000}\n');
    await expectStoppedForProtocol(fake, conn, pending);
  });

  it('kills a sandbox that sends an endless line', async () => {
    const { fake, conn } = await connect();
    const pending = conn.call('ping');
    pending.catch(() => undefined); // rejected while the loop still runs; checked below
    const chunk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 40 && !fake.killedWith; i++) {
      fake.send(chunk);
      await tick();
    }
    await expectStoppedForProtocol(fake, conn, pending);
  });

  it('kills a sandbox whose result does not fit the op, or whose message has an unknown shape', async () => {
    const a = await connect();
    const exec = a.conn.call('exec', { command: 'true' });
    a.fake.send('{"id":1,"ok":true,"result":{"stdout":5}}\n');
    await expectStoppedForProtocol(a.fake, a.conn, exec);
    const b = await connect();
    const ping = b.conn.call('ping');
    b.fake.send('{"id":"1","ok":"yes"}\n');
    await expectStoppedForProtocol(b.fake, b.conn, ping);
  });

  it('drops replies to unknown ids and maps unknown error codes to INTERNAL', async () => {
    const { fake, conn } = await connect();
    const first = conn.call('fs.stat', { path: 'a' });
    const second = conn.call('fs.mkdir', { path: 'b' });
    fake.send('{"id":999,"ok":true,"result":{}}\n{"id":1,"ok":false,"error":{"code":"__proto__","message":"m"}}\n');
    fake.send('{"id":2,"ok":false,"error":{"code":"NOT_A_CODE","message":"m2","hint":"h"}}\n');
    const e1 = await first.catch((e: SandboxError) => e);
    const e2 = await second.catch((e: SandboxError) => e);
    expect([(e1 as SandboxError).code, (e2 as SandboxError).code]).toEqual(['INTERNAL', 'INTERNAL']);
    const third = conn.call('fs.remove', { path: 'c' });
    fake.send('{"id":3,"ok":false,"error":{"code":"NOT_FOUND","message":"gone"}}\n');
    await expect(third).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(conn.alive).toBe(true);
    expect(fake.killedWith).toBeUndefined();
  });

  it('one connection breaking the protocol leaves another untouched', async () => {
    const bad = await connect();
    const good = await connect();
    const badCall = bad.conn.call('ping');
    const goodCall = good.conn.call('ping');
    bad.fake.send('{"$bin":"__proto__.polluted","$len":2}\nhi');
    good.fake.send('{"id":1,"ok":true,"result":{"pid":7}}\n');
    await expectStoppedForProtocol(bad.fake, bad.conn, badCall);
    await expect(goodCall).resolves.toEqual({ pid: 7 });
    expect(good.conn.alive).toBe(true);
    expect(proto.polluted).toBeUndefined();
  });

  it('holds a bounded tail of the agent stderr, whatever is written to it', async () => {
    const lines = new BoundedLines(20, 1000);
    for (let i = 0; i < 64; i++) lines.push(Buffer.alloc(1 << 20, 0x61));
    expect(lines.lines().join('').length).toBeLessThanOrEqual(1000);
    for (let i = 0; i < 100; i++) lines.push(Buffer.from(`line ${i}\n`));
    expect(lines.lines()).toHaveLength(20);
    expect(lines.lines().at(-1)).toBe('line 99');
  });
});
