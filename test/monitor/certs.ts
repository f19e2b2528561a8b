import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cert {
  key: string;
  cert: string;
}

const CA_CONFIG = `[ ca ]
default_ca = ca_default
[ ca_default ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = policy_any
copy_extensions = copy
[ policy_any ]
commonName = supplied
`;

/**
 * A self-signed certificate for 127.0.0.1 made with the openssl CLI; `expired`
 * dates it in 2020 (through `openssl ca`, which accepts explicit dates).
 */
export function makeCert({ expired = false, days = 2 } = {}): Cert {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-cert-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem'];
    if (!expired) {
      run(['req', '-x509', ...key, '-out', 'cert.pem', '-days', String(days), ...subject]);
    } else {
      writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
      writeFileSync(join(dir, 'index.txt'), '');
      writeFileSync(join(dir, 'serial'), '01\n');
      run(['req', '-new', ...key, '-out', 'req.csr', ...subject]);
      run([
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-selfsign',
        '-keyfile',
        'key.pem',
        '-in',
        'req.csr',
        '-out',
        'cert.pem',
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200201000000Z',
      ]);
    }
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
