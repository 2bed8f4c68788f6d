import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { passwordHashProblem, verifyPassword } from '../../src/password-hash.js';

/** `npm run hash-password` (SPEC §8, §12): the password on standard input, the hash on standard output. */
function hashPasswordScript(input: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('npx', ['tsx', 'scripts/hash-password.ts'], { input, encoding: 'utf8', timeout: 50_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run hash-password', function () {
  this.timeout(60_000);

  it('prints one passwordHash that verifies the password read on standard input (the trailing newline trimmed only)', async () => {
    const { status, stdout, stderr } = hashPasswordScript(' vagt kodeord \n');
    expect(stderr).to.equal('');
    expect(status).to.equal(0);
    const lines = stdout.split('\n');
    expect(lines).to.have.length(2);
    expect(lines[1]).to.equal('');
    const hash = lines[0] ?? '';
    expect(passwordHashProblem(hash)).to.equal(null);
    expect(await verifyPassword(' vagt kodeord ', hash)).to.equal(true);
    expect(await verifyPassword('vagt kodeord', hash)).to.equal(false);
  });

  it('takes a password without a newline, and a Windows line end', async () => {
    const plain = hashPasswordScript('hemmeligt');
    expect(plain.status).to.equal(0);
    expect(await verifyPassword('hemmeligt', plain.stdout.trim())).to.equal(true);
    const windows = hashPasswordScript('hemmeligt\r\n');
    expect(windows.status).to.equal(0);
    expect(await verifyPassword('hemmeligt', windows.stdout.trim())).to.equal(true);
  });

  it('refuses an empty password with one line and a non-zero exit', () => {
    for (const input of ['', '\n']) {
      const { status, stdout, stderr } = hashPasswordScript(input);
      expect(status).to.equal(1);
      expect(stdout).to.equal('');
      expect(stderr.trim().split('\n')).to.have.length(1);
      expect(stderr).to.match(/empty/i);
    }
  });
});
