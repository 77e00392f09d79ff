import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { EnvelopeScanner, MAX_VENDOR_RESPONSE_BYTES, overTheCap } from '../shared/response-cap.js';

/**
 * A byte cap on every answer the e2b SDK reads. The SDK talks to envd (its daemon inside the sandbox,
 * which hostile code can replace) through an undici Agent it builds itself, offers no hook for a
 * dispatcher or a response size, and buffers whole answers. So the `Agent` (and `ProxyAgent`) that the
 * undici package exports is replaced, before the SDK's first request, with one composed with a byte
 * counter; the SDK loads undici lazily by name, so it gets ours. Checked at start: if the SDK would get
 * another undici (a different copy, or one loaded before this ran), the provider refuses to start.
 */

interface Controller {
  abort(reason: Error): void;
}
type Headers = Record<string, string | string[] | undefined>;
interface DecoratorHandler {
  onResponseStart?(controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void;
  onResponseData?(controller: Controller, chunk: Buffer): void;
}
type Dispatch = (options: object, handler: object) => boolean;
interface Dispatcher {
  compose(interceptor: (dispatch: Dispatch) => Dispatch): Dispatcher;
}
type DispatcherClass = new (options?: object) => Dispatcher;
interface UndiciModule {
  Agent: DispatcherClass;
  ProxyAgent: DispatcherClass;
  DecoratorHandler: new (handler: object) => DecoratorHandler;
}

const capped = new WeakSet<object>();

/** Makes the undici copy the e2b SDK resolves count each answer's bytes and abort it past the cap. */
export async function capEnvdResponses(maxBytes = MAX_VENDOR_RESPONSE_BYTES): Promise<void> {
  const fromSdk = createRequire(createRequire(import.meta.url).resolve('e2b'));
  // The SDK tries `undici8` first on newer Node versions; cap every copy it could pick.
  for (const name of ['undici8', 'undici']) {
    let file: string;
    try {
      file = fromSdk.resolve(name);
    } catch {
      continue;
    }
    const undici = fromSdk(name) as UndiciModule;
    if (!capped.has(undici)) {
      undici.Agent = cappedClass(undici, undici.Agent, maxBytes);
      undici.ProxyAgent = cappedClass(undici, undici.ProxyAgent, maxBytes);
      capped.add(undici);
    }
    const seen = (await import(pathToFileURL(file).href)) as UndiciModule;
    if (seen.Agent !== undici.Agent) {
      throw new Error(
        `the e2b SDK's undici (${file}) was loaded before its answers could be capped; start the e2b provider before anything imports undici`,
      );
    }
  }
}

function cappedClass(undici: UndiciModule, Base: DispatcherClass, maxBytes: number): DispatcherClass {
  /**
   * Counts an answer's bytes; the answer to a Connect streaming request (a command's output) is counted
   * message by message: the request must ask for a stream, since a daemon could label any answer one.
   */
  class Counting extends undici.DecoratorHandler {
    constructor(
      handler: object,
      private readonly streaming: boolean,
    ) {
      super(handler);
    }

    private bytes = 0;
    private over = false;
    private envelopes: EnvelopeScanner | undefined;
    // Captured when the request starts: the call that made it learns why it failed (see overTheCap).
    private readonly onOver = overTheCap();

    override onResponseStart(
      controller: Controller,
      statusCode: number,
      headers: Headers,
      statusMessage?: string,
    ): void {
      // Both must say stream: an error answer to a stream request is plain JSON, counted whole.
      if (this.streaming && String(headers['content-type'] ?? '').startsWith('application/connect+'))
        this.envelopes = new EnvelopeScanner(maxBytes);
      super.onResponseStart?.(controller, statusCode, headers, statusMessage);
    }

    override onResponseData(controller: Controller, chunk: Buffer): void {
      if (this.over) return;
      this.bytes += chunk.length;
      this.over = this.envelopes ? !this.envelopes.scan(chunk) : this.bytes > maxBytes;
      if (!this.over) return super.onResponseData?.(controller, chunk);
      // Later: fetch may not have handed out the Response yet, and an abort before that never
      // reaches its body (the reader would wait for ever).
      const error = this.onOver(maxBytes);
      setImmediate(() => controller.abort(error));
    }
  }
  const interceptor =
    (dispatch: Dispatch): Dispatch =>
    (options, handler) =>
      dispatch(options, new Counting(handler, isConnectStream((options as { headers?: unknown }).headers)));
  return class extends Base {
    constructor(options?: object) {
      super(options);
      // compose() answers a proxy of this dispatcher whose dispatch runs through the interceptor.
      return this.compose(interceptor);
    }
  };
}

/** Whether a request's headers (undici's dispatch options: an object, or a flat name, value list) ask for a Connect stream. */
function isConnectStream(headers: unknown): boolean {
  const list: unknown[] = Array.isArray(headers) ? headers : Object.entries(headers ?? {}).flat();
  for (let index = 0; index + 1 < list.length; index += 2)
    if (String(list[index]).toLowerCase() === 'content-type')
      return String(list[index + 1]).startsWith('application/connect+');
  return false;
}
