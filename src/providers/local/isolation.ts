import { spawnSync } from 'node:child_process';
import { SandboxError } from '../../errors.js';
import { HOST_UID_BASE, serverIsRoot } from './host-identity.js';

export type IsolationMethod = 'bwrap' | 'unshare' | 'none';

/** Probes as the user sandboxes will run as: a root server's drop to an unprivileged uid first. */
function works(cmd: string, args: string[]): boolean {
  const asSandbox: [string, string[]] = serverIsRoot()
    ? [
        'setpriv',
        ['--reuid', String(HOST_UID_BASE), '--regid', String(HOST_UID_BASE), '--clear-groups', '--', cmd, ...args],
      ]
    : [cmd, args];
  const r = spawnSync(asSandbox[0], asSandbox[1], { stdio: 'ignore', timeout: 10_000, cwd: '/' });
  return r.status === 0;
}

const bwrapWorks = () =>
  works('bwrap', [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--ro-bind',
    '/',
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    'true',
  ]);
const unshareWorks = () =>
  works('unshare', ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--net', '--ipc', '--uts', 'true']);

const INSTALL_HINT =
  'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) and make sure user namespaces are enabled ' +
  '(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ also kernel.apparmor_restrict_unprivileged_userns=0), ' +
  'or use SANDBOX_PROVIDER=docker; SANDBOX_ISOLATION=none runs commands unisolated on this machine (trusted use only)';

/** Resolves the configured isolation to one that works here, or refuses with what to do. */
export function chooseIsolation(wanted: 'auto' | IsolationMethod): IsolationMethod {
  if (wanted === 'none') return 'none';
  if (process.platform !== 'linux') {
    throw new SandboxError(
      'UNSUPPORTED',
      `the local provider isolates with Linux namespaces, and this is ${process.platform}`,
      { hint: 'use SANDBOX_PROVIDER=docker, e2b or daytona, or SANDBOX_ISOLATION=none for unisolated trusted use' },
    );
  }
  if ((wanted === 'auto' || wanted === 'bwrap') && bwrapWorks()) return 'bwrap';
  if (wanted === 'bwrap')
    throw new SandboxError(
      'UNSUPPORTED',
      'SANDBOX_ISOLATION=bwrap, but bwrap is missing or cannot create namespaces here',
      { hint: INSTALL_HINT },
    );
  if (unshareWorks()) return 'unshare';
  throw new SandboxError(
    'UNSUPPORTED',
    'no isolation available: neither bwrap nor unshare can create namespaces here',
    { hint: INSTALL_HINT },
  );
}
