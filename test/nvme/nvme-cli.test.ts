/** `xdbm nvme ...` subcommands on this host (no NVMe in this kernel): output and exit codes. */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register, runNvmeCommand } from '../../src/cli/commands/nvme.js';
import { ErrorCode } from '../../src/errors.js';
import { HOSTNQN_UUID_RE, hostNqn } from '../../src/nvme/topology.js';
import { requires } from '../support/requires.js';

/** Debian libnvme1: without it these skip, naming the package (see test/support/requires.ts). */
const libnvme = requires('libnvme1');

describe('xdbm nvme', () => {
  it.skipIf(libnvme.missing)(`hostnqn prints the host NQN (text and JSON)${libnvme.note}`, async () => {
    const text = await runNvmeCommand('hostnqn', []);
    expect(text).toEqual({ exitCode: 0, stdout: `${hostNqn()}\n`, stderr: '' });
    const json = await runNvmeCommand('hostnqn', [], { json: true });
    expect(JSON.parse(json.stdout).hostnqn).toMatch(HOSTNQN_UUID_RE);
  });

  it.skipIf(existsSync('/sys/class/nvme') || libnvme.missing)(`list says there are none on a kernel without NVMe (this host; the testbed guest has controllers: nvmeof-target.test.ts lists them)${libnvme.note}`, async () => {
    expect(await runNvmeCommand('list', [])).toEqual({ exitCode: 0, stdout: 'no NVMe controllers\n', stderr: '' });
    expect(JSON.parse((await runNvmeCommand('list', [], { json: true })).stdout)).toEqual([]);
  });

  it.skipIf(libnvme.missing)(`connect that fails is exit 1 with the code; bad input is exit 2${libnvme.note}`, async () => {
    const fail = await runNvmeCommand('connect', ['nvme://127.0.0.1:4420/nqn.2026-11.io.xdbm:absent'], { json: true });
    expect(fail.exitCode).toBe(1);
    expect(JSON.parse(fail.stdout).error.code).toBe(ErrorCode.NVME_ERROR);
    const bad = await runNvmeCommand('connect', ['nfs://x:/y']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(ErrorCode.BAD_CONNECTION_STRING);
    expect((await runNvmeCommand('connect', ['nvme://127.0.0.1/nqn.a:b'], { ctrlLossTmoS: 'x' })).exitCode).toBe(2);
    expect((await runNvmeCommand('health', ['../../etc'])).exitCode).toBe(2);
    expect((await runNvmeCommand('discover', ['a:b:c'])).exitCode).toBe(2);
  });

  it('health of a controller that does not exist reports it gone', async () => {
    const out = await runNvmeCommand('health', ['nvme977', '1'], { json: true });
    expect(out.exitCode).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ controllerState: 'gone', smart: null });
  });

  it.skipIf(libnvme.missing)(`registers as a commander command group${libnvme.note}`, async () => {
    const program = new Command();
    register(program);
    const nvme = program.commands.find((c) => c.name() === 'nvme')!;
    expect(nvme.commands.map((c) => c.name()).sort()).toEqual(['connect', 'disconnect', 'discover', 'health', 'hostnqn', 'list']);
    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => { writes.push(s); return true; }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'xdbm', 'nvme', 'hostnqn', '--json']);
    } finally {
      process.stdout.write = orig;
    }
    expect(JSON.parse(writes.join('')).hostnqn).toBe(hostNqn());
    process.exitCode = undefined;
  });
});
