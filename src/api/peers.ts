// Where the other nodes' APIs are, for the cluster view (the dashboard's every-node
// VRRP table, `haldir status --cluster`). A node knows its own state and, from
// adverts, the master's address; for the others' detail it asks their APIs over TCP
// with its own (first) token — the nodes of a cluster share a token, or list each
// other's in their token files. Peers come from `--peer-api NAME=HOST:PORT`, else
// from the cluster file's nodes (each node's address, at the port of this node's
// --api-listen).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { call, describe, type Endpoint } from './client.js';
import type { ClusterNodeView, NodeStatus } from './types.js';

export interface Peer {
  name: string;
  endpoint: Endpoint;
}

export class PeerError extends Error {}

const hostPort = (h: string, p: number): string => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);

/** `NAME=HOST:PORT` (HOST may be `[v6]`). */
export function parsePeer(text: string, token?: string): Peer {
  const m = /^([\w.-]+)=(\[[^\]]+\]|[^:=\s]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new PeerError(`--peer-api must be NAME=HOST:PORT (e.g. lb2=192.168.2.12:9440), not "${text}"`);
  return { name: m[1]!, endpoint: { url: `http://${m[2]}:${m[3]}`, ...(token ? { token } : {}) } };
}

/** The `nodes:` of a cluster file: name and address (the CLI's --cluster FILE, the daemon's defaults). */
export function clusterNodes(file: string): { name: string; address: string }[] {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PeerError(`cannot read the cluster file ${file}: ${(e as Error).message}`);
  }
  const nodes = (doc as { nodes?: unknown })?.nodes;
  if (!Array.isArray(nodes)) throw new PeerError(`${file} has no nodes: list (is it a haldir cluster file?)`);
  return nodes.flatMap((n) => {
    const o = n as { name?: unknown; address?: unknown };
    return typeof o.name === 'string' && typeof o.address === 'string' ? [{ name: o.name, address: o.address }] : [];
  });
}

export function peersFromCluster(file: string, port: number, token?: string): Peer[] {
  return clusterNodes(file).map((n) => ({ name: n.name, endpoint: { url: `http://${hostPort(n.address, port)}`, ...(token ? { token } : {}) } }));
}

/** Asks every peer for its status at once; each answer or error within `timeoutMs`. */
export async function askPeers(peers: Peer[], timeoutMs = 1500): Promise<ClusterNodeView[]> {
  return Promise.all(
    peers.map(async (p): Promise<ClusterNodeView> => {
      try {
        const status = await call<NodeStatus>(p.endpoint, 'GET', '/api/v1/status', undefined, timeoutMs);
        return { name: p.name, api: describe(p.endpoint), ok: true, status };
      } catch (e) {
        return { name: p.name, api: describe(p.endpoint), ok: false, error: (e as Error).message };
      }
    }),
  );
}
