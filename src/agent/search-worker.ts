import { parentPort, workerData } from 'node:worker_threads';
import { toErrorBody } from './errors.js';
import { searchFiles, type SearchJob } from './search.js';

searchFiles(workerData as SearchJob, (outcome) => parentPort!.postMessage({ type: 'progress', outcome })).then(
  (outcome) => parentPort!.postMessage({ type: 'done', outcome }),
  (err: unknown) => parentPort!.postMessage({ type: 'error', error: toErrorBody(err) }),
);
