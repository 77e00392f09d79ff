import type { Sandbox as Vendor } from '@daytonaio/sdk';
import { SandboxError } from '../../errors.js';
import { MAX_VENDOR_RESPONSE_BYTES } from '../shared/response-cap.js';

interface WithAxios {
  axiosInstance?: { defaults?: { maxContentLength?: number } };
}

/**
 * A byte cap on every answer of Daytona's toolbox, its daemon inside the sandbox (which hostile code
 * can replace). The SDK reaches it through an axios instance of its own per sandbox, with no size
 * limit, and buffers whole answers: a command's whole output comes back in one. axios has the option
 * (maxContentLength, which bounds streamed downloads too); the SDK does not expose it, so it is set on
 * that instance. If a new SDK keeps the instance elsewhere, the sandbox is refused rather than left
 * uncapped.
 */
export function capToolboxAnswers(vendor: Vendor, maxBytes = MAX_VENDOR_RESPONSE_BYTES): void {
  const defaults = (vendor as unknown as WithAxios).axiosInstance?.defaults;
  if (!defaults) {
    throw new SandboxError('INTERNAL', "Daytona: this SDK version hides its toolbox's HTTP client", {
      hint: 'the server cannot cap what the sandbox sends back; install the @daytonaio/sdk version in package-lock.json',
    });
  }
  defaults.maxContentLength = maxBytes;
}
