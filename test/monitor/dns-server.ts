// A tiny authoritative DNS server on 127.0.0.1 (UDP, port 0) for the dns checks' tests:
// fixed records per name, NXDOMAIN for other names, silence for `slow.` names.
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface Records {
  A?: string[];
  AAAA?: string[];
  CNAME?: string[];
  MX?: Array<{ priority: number; exchange: string }>;
  TXT?: string[][];
}

const TYPES = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 } as const;

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])), Buffer.from([0])]);
}

function ipv6(text: string): Buffer {
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function rdata(type: keyof Records, value: unknown): Buffer {
  if (type === 'A') return Buffer.from(String(value).split('.').map(Number));
  if (type === 'AAAA') return ipv6(String(value));
  if (type === 'CNAME') return encodeName(String(value));
  if (type === 'MX') {
    const mx = value as { priority: number; exchange: string };
    const pref = Buffer.alloc(2);
    pref.writeUInt16BE(mx.priority);
    return Buffer.concat([pref, encodeName(mx.exchange)]);
  }
  return Buffer.concat((value as string[]).map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])));
}

export interface DnsServer {
  /** `127.0.0.1:port`, as `dns_server` takes it. */
  address: string;
  /** Queries received, as `TYPE name`. */
  queries: string[];
  close(): Promise<void>;
}

export async function startDnsServer(zone: Record<string, Records>): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, rinfo) => {
    let offset = 12;
    const labels: string[] = [];
    while (msg[offset]! > 0) {
      const len = msg[offset]!;
      labels.push(msg.subarray(offset + 1, offset + 1 + len).toString());
      offset += len + 1;
    }
    const question = msg.subarray(12, offset + 5);
    const qtype = msg.readUInt16BE(offset + 1);
    const name = labels.join('.').toLowerCase();
    const typeName = (Object.keys(TYPES) as Array<keyof typeof TYPES>).find((k) => TYPES[k] === qtype);
    queries.push(`${typeName ?? qtype} ${name}`);
    if (name.startsWith('slow.')) return; // never answers: the check's timeout
    const records = zone[name];
    const values: unknown[] = records && typeName ? ((records[typeName] as unknown[] | undefined) ?? []) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    header.writeUInt16BE(0x8400 | 0x0100 | (records ? 0 : 3), 2); // response, authoritative, RD copied, NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(values.length, 6);
    const answers = values.map((value) => {
      const data = rdata(typeName!, value);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address() as AddressInfo;
  return { address: `127.0.0.1:${port}`, queries, close: () => new Promise((r) => socket.close(() => r())) };
}
