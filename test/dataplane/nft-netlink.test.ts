// The nf_tables netlink codec (nfnetlink.ts) as a pure function: the batch it encodes is
// byte for byte what nft 1.0.6 sends for the same commands (MAIN_NFT/CHANGE_NFT below were
// captured with `nft --debug=mnl -f`, see GOLDEN), long element lists are cut into
// messages netlink can carry, every message maps back to the op and element it writes
// (so a refusal names them), and values that cannot be written are refused before
// anything is sent. Plus the cached diff's handling of an element several services share.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newNodeModel, newRealServer, newVirtualServer } from '../../src/model/construct.js';
import { allUpTable } from '../../src/dataplane/desired.js';
import { NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NfnlEncodeError, encodeBatch, locateFailure } from '../../src/dataplane/nftables/nfnetlink.js';
import { describeRefusal } from '../../src/dataplane/nftables/netlink.js';
import { opsText, type NftOp } from '../../src/dataplane/nftables/ops.js';
import type { NftChain, NftFamily, NftMap } from '../../src/dataplane/nftables/objects.js';
import type { Rule } from '../../src/dataplane/nftables/rules.js';
import { assemble, renderService } from '../../src/dataplane/nftables/render.js';
import { diffState } from '../../src/dataplane/nftables/diff.js';
import { parseNlmsgs, parseRtattrs } from '../../src/netlink/rtnetlink.js';
import { NftablesDataplane } from '../../src/dataplane/nftables/index.js';

// ---- the commands: three tables (created in a first batch), then one batch with every
// kind of object haldir writes, then one with flushes and deletes.

const W4 = { family: 'ip', table: 'haldir' } as const;
const W6 = { family: 'ip6', table: 'haldir' } as const;
const WD = { family: 'netdev', table: 'haldir' } as const;
const chain = (name: string, extra: Partial<NftChain> = {}): NftChain => ({ name, rules: [], tags: [], ...extra });
const map = (name: string, keyTypes: string[], dataType: string, extra: Partial<NftMap> = {}): NftMap => ({ name, keyTypes, dataType, elements: new Map(), ...extra });
const rule = (w: { family: NftFamily; table: string }, chainName: string, r: Rule, text: string, comment: string): NftOp => ({ op: 'add rule', ...w, chain: chainName, rule: r, text, comment });
const SETUP: NftOp[] = [
  { op: 'add table', ...W4 },
  { op: 'add table', ...W6 },
  { op: 'add table', ...WD },
];
const MAIN: NftOp[] = [
  { op: 'add map', ...W4, map: map('services', ['ipv4_addr', 'inet_proto', 'inet_service'], 'verdict') },
  { op: 'add map', ...W4, map: map('fwmarks', ['mark'], 'verdict') },
  { op: 'add map', ...W4, map: map('dests', ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr', 'inet_service'], 'mark') },
  { op: 'add map', ...W4, map: map('rs_stats', ['ipv4_addr', 'ipv4_addr', 'inet_service'], '', { dynamic: true }) },
  { op: 'add map', ...W4, map: map('masq', ['ipv4_addr'], '') },
  { op: 'add chain', ...W4, chain: chain('prerouting', { base: { type: 'nat', hook: 'prerouting', prio: -100 } }) },
  { op: 'add chain', ...W4, chain: chain('postrouting', { base: { type: 'nat', hook: 'postrouting', prio: 100 } }) },
  { op: 'add chain', ...W4, chain: chain('vs/tcp/10.0.0.100/80', { comment: 'tcp:[10.0.0.100]:80' }) },
  { op: 'add chain', ...W4, chain: chain('vs/fwm/5/4', { comment: 'fwmark:5:4' }) },
  { op: 'add chain', ...W4, chain: chain('vs/tcp/10.0.0.100/84', { comment: 'tcp:[10.0.0.100]:84' }) },
  { op: 'add chain', ...W6, chain: chain('vs/tcp/fd00__100/80', { comment: 'tcp:[fd00::100]:80' }) },
  { op: 'add map', ...WD, map: map('dr4', ['ipv4_addr', 'inet_proto', 'inet_service'], 'verdict') },
  { op: 'add map', ...WD, map: map('rs_macs', ['ether_addr'], '') },
  { op: 'add chain', ...WD, chain: chain('ingress/veth0', { base: { type: 'filter', hook: 'ingress', prio: 0, device: 'veth0' } }) },
  { op: 'add chain', ...WD, chain: chain('vs/tcp/10.0.0.200/80/10.0.0.21/80', { comment: 'tcp:[10.0.0.200]:80 -> [10.0.0.21]:80' }) },
  { op: 'add chain', ...WD, chain: chain('vs/tcp/10.0.0.200/80/10.0.0.11/80', { comment: 'tcp:[10.0.0.200]:80 -> [10.0.0.11]:80' }) },
  { op: 'add chain', ...WD, chain: chain('vs/tcp/10.0.0.200/80', { comment: 'tcp:[10.0.0.200]:80' }) },
  rule(W4, 'prerouting', [{ s: 'vmap', key: { fields: ['ip daddr', 'meta l4proto', 'th dport'] }, map: 'services' }], 'ip daddr . meta l4proto . th dport vmap @services', 'h=f093b977e4c6'),
  rule(W4, 'prerouting', [{ s: 'vmap', key: { fields: ['meta mark'] }, map: 'fwmarks' }], 'meta mark vmap @fwmarks', 'h=846e2d764ddb'),
  rule(W4, 'postrouting', [{ s: 'ct status', value: 'dnat' }, { s: 'update', set: 'rs_stats', key: ['ct original ip daddr', 'ip daddr', 'th dport'] }], 'ct status dnat update @rs_stats { ct original ip daddr . ip daddr . th dport }', 'h=525f5d03338d'),
  rule(W4, 'postrouting', [{ s: 'ct status', value: 'dnat' }, { s: 'in', key: ['ct original ip daddr'], set: 'masq' }, { s: 'masquerade' }], 'ct status dnat ct original ip daddr @masq masquerade', 'h=579dd58ca4ff'),
  rule(W4, 'vs/tcp/10.0.0.100/80', [{ s: 'counter' }, { s: 'meta', key: 'l4proto', value: 'tcp' }, { s: 'dnat', family: 'ip', key: { numgen: 3 }, map: { slots: [0, 0, 1], targets: [{ addr: '10.0.0.21', port: 8080 }, { addr: '10.0.0.22', port: 8080 }] } }], 'counter meta l4proto tcp dnat ip to numgen inc mod 3 map { 0 : 10.0.0.21 . 8080, 1 : 10.0.0.21 . 8080, 2 : 10.0.0.22 . 8080 }', 'h=95f8d70051ff wrr per-connection'),
  rule(W4, 'vs/fwm/5/4', [{ s: 'counter' }, { s: 'meta', key: 'l4proto', value: 'tcp' }, { s: 'dnat', family: 'ip', key: { numgen: 2 }, map: { slots: [0, 1], targets: [{ addr: '10.0.0.21' }, { addr: '10.0.0.22' }] } }], 'counter meta l4proto tcp dnat ip to numgen inc mod 2 map { 0 : 10.0.0.21, 1 : 10.0.0.22 }', 'h=d563ff6cb09d rr per-connection'),
  rule(W4, 'vs/tcp/10.0.0.100/84', [{ s: 'counter' }, { s: 'drop' }], 'counter drop', 'h=fd3e346c03c2 rr no-destination'),
  rule(W6, 'vs/tcp/fd00__100/80', [{ s: 'counter' }, { s: 'meta', key: 'l4proto', value: 'udp' }, { s: 'dnat', family: 'ip6', key: { jhash: ['ip6 saddr', 'th sport'], mod: 4, seed: 0x14018341 }, map: { slots: [0, 1, 1, 0], targets: [{ addr: 'fd00::21', port: 8080 }, { addr: 'fd00::22', port: 8080 }] } }], 'counter meta l4proto udp dnat ip6 to jhash ip6 saddr . th sport mod 4 seed 0x14018341 map { 0 : fd00::21 . 8080, 1 : fd00::22 . 8080, 2 : fd00::22 . 8080, 3 : fd00::21 . 8080 }', 'h=f899a35e21d4 mh maglev 4 +port seed 0x14018341'),
  rule(WD, 'ingress/veth0', [{ s: 'in', key: ['ether saddr'], set: 'rs_macs' }, { s: 'accept' }], 'ether saddr @rs_macs accept', 'h=950c45cc82ee'),
  rule(WD, 'ingress/veth0', [{ s: 'meta', key: 'pkttype', value: 'host' }, { s: 'vmap', key: { fields: ['ip daddr', 'meta l4proto', 'th dport'] }, map: 'dr4' }], 'meta pkttype host ip daddr . meta l4proto . th dport vmap @dr4', 'h=686c5a7261ff'),
  rule(WD, 'vs/tcp/10.0.0.200/80/10.0.0.21/80', [{ s: 'counter' }, { s: 'ether set', field: 'saddr', mac: '02:00:00:00:00:11' }, { s: 'ether set', field: 'daddr', mac: '02:00:00:00:00:21' }, { s: 'fwd', dev: 'veth0' }], 'counter ether saddr set 02:00:00:00:00:11 ether daddr set 02:00:00:00:00:21 fwd to "veth0"', 'h=de5b954d92c2 w=1'),
  rule(WD, 'vs/tcp/10.0.0.200/80/10.0.0.11/80', [{ s: 'counter' }, { s: 'accept' }], 'counter accept', 'h=d18de142443c w=1'),
  rule(WD, 'vs/tcp/10.0.0.200/80', [{ s: 'counter' }, { s: 'vmap', key: { jhash: ['ip saddr'], mod: 3, seed: 0xe6268c47 }, map: { slots: [0, 1, 0], targets: [{ goto: 'vs/tcp/10.0.0.200/80/10.0.0.21/80' }, { goto: 'vs/tcp/10.0.0.200/80/10.0.0.11/80' }] } }], 'counter jhash ip saddr mod 3 seed 0xe6268c47 vmap { 0 : goto vs/tcp/10.0.0.200/80/10.0.0.21/80, 1 : goto vs/tcp/10.0.0.200/80/10.0.0.11/80, 2 : goto vs/tcp/10.0.0.200/80/10.0.0.21/80 }', 'h=ec0ed3f300d9 mh maglev 3 seed 0xe6268c47'),
  { op: 'add element', ...W4, map: map('services', ['ipv4_addr', 'inet_proto', 'inet_service'], 'verdict'), keys: ['10.0.0.100 . tcp . 80'], values: ['goto vs/tcp/10.0.0.100/80'] },
  { op: 'add element', ...W4, map: map('fwmarks', ['mark'], 'verdict'), keys: ['5'], values: ['goto vs/fwm/5/4'] },
  { op: 'add element', ...W4, map: map('dests', ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr', 'inet_service'], 'mark'), keys: ['10.0.0.100 . tcp . 80 . 10.0.0.21 . 8080', '10.0.0.100 . udp . 53 . 10.0.0.22 . 53'], values: ['2', '0'] },
  { op: 'add element', ...W4, map: map('masq', ['ipv4_addr'], ''), keys: ['10.0.0.100'], values: [''] },
  { op: 'add element', ...WD, map: map('dr4', ['ipv4_addr', 'inet_proto', 'inet_service'], 'verdict'), keys: ['10.0.0.200 . tcp . 80'], values: ['goto vs/tcp/10.0.0.200/80'] },
  { op: 'add element', ...WD, map: map('rs_macs', ['ether_addr'], ''), keys: ['02:00:00:00:00:21'], values: [''] },
];
const CHANGE: NftOp[] = [
  { op: 'flush chain', ...W4, chain: 'vs/tcp/10.0.0.100/84' },
  { op: 'delete element', ...W4, map: map('dests', ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr', 'inet_service'], 'mark'), keys: ['10.0.0.100 . udp . 53 . 10.0.0.22 . 53'], values: [''] },
  { op: 'delete chain', ...W4, chain: 'vs/tcp/10.0.0.100/84' },
  { op: 'delete map', ...W4, map: 'fwmarks', kind: 'map' },
  { op: 'flush chain', ...W4, chain: 'vs/fwm/5/4' },
  { op: 'delete chain', ...W4, chain: 'vs/fwm/5/4' },
  { op: 'delete table', ...W6 },
];

// GOLDEN: in a fresh network namespace with `veth0` (ifindex 3): `nft -f` of
// opsText(SETUP), then `nft --debug=mnl -f` of opsText(MAIN), then of opsText(CHANGE);
// each message from NFNL_MSG_BATCH_BEGIN to END as `<type hex>:<payload after the
// nlmsghdr, hex>` (the header's sequence numbers and flags differ and are checked apart).
const MAIN_NFT = [
  '10:0000000a',
  'a09:020000000b00010068616c64697200000d0002007365727669636573000000000800030000000008080004000000730d080005000000000c08000600ffffff00080007000000000008000a000000000120000d00000400000000010400000000030800040d0000000100060400000000',
  'a09:020000000b00010068616c64697200000c00020066776d61726b730008000300000000080800040000000013080005000000000408000600ffffff00080007000000000008000a000000000216000d000004010000000104000000000604000000000000',
  'a09:020000000b00010068616c64697200000a00020064657374730000000800030000000008080004000730d1cd08000500000000140800060000000013080007000000000408000a000000000320000d00000400000000010401000000030800040d0000000100060400000000',
  'a09:020000000b00010068616c64697200000d00020072735f737461747300000000080003000000002008000400000071cd080005000000000c08000a00000000040c000980080001000010000014000d00000400000000030800040d0000000100140011800c000100636f756e7465720004000280',
  'a09:020000000b00010068616c6469720000090002006d6173710000000008000300000000000800040000000007080005000000000408000a00000000050a000d000004020000000000',
  'a03:020000000b00010068616c64697200000f000300707265726f7574696e670000080007006e617400080005000000000114000480080001000000000008000200ffffff9c',
  'a03:020000000b00010068616c646972000010000300706f7374726f7574696e6700080007006e61740008000500000000011400048008000100000000040800020000000064',
  'a03:020000000b00010068616c64697200001900030076732f7463702f31302e302e302e3130302f3830000000001a000c0000147463703a5b31302e302e302e3130305d3a3830000000',
  'a03:020000000b00010068616c64697200000f00030076732f66776d2f352f34000011000c00000b66776d61726b3a353a3400000000',
  'a03:020000000b00010068616c64697200001900030076732f7463702f31302e302e302e3130302f3834000000001a000c0000147463703a5b31302e302e302e3130305d3a3834000000',
  'a03:0a0000000b00010068616c64697200001800030076732f7463702f666430305f5f3130302f38300019000c0000137463703a5b666430303a3a3130305d3a383000000000',
  'a09:050000000b00010068616c646972000008000200647234000800030000000008080004000000730d080005000000000c08000600ffffff00080007000000000008000a000000000620000d00000400000000010400000000030800040d0000000100060400000000',
  'a09:050000000b00010068616c64697200000c00020072735f6d6163730008000300000000000800040000000009080005000000000608000a00000000070a000d000004020000000000',
  'a03:050000000b00010068616c646972000012000300696e67726573732f76657468300000000b00070066696c7465720000080005000000000120000480080001000000000008000200000000000a0003007665746830000000',
  'a03:050000000b00010068616c64697200002600030076732f7463702f31302e302e302e3230302f38302f31302e302e302e32312f38300000002c000c0000267463703a5b31302e302e302e3230305d3a3830202d3e205b31302e302e302e32315d3a383000',
  'a03:050000000b00010068616c64697200002600030076732f7463702f31302e302e302e3230302f38302f31302e302e302e31312f38300000002c000c0000267463703a5b31302e302e302e3230305d3a3830202d3e205b31302e302e302e31315d3a383000',
  'a03:050000000b00010068616c64697200001900030076732f7463702f31302e302e302e3230302f3830000000001a000c0000147463703a5b31302e302e302e3230305d3a3830000000',
  'a06:020000000b00010068616c64697200000f000200707265726f7574696e670000cc000480340001800c0001007061796c6f61640024000280080001000000000108000200000000010800030000000010080004000000000424000180090001006d657461000000001400028008000200000000100800010000000009340001800c0001007061796c6f61640024000280080001000000000a0800020000000002080003000000000208000400000000023c0001800b0001006c6f6f6b757000002c000280080002000000000108000300000000000d000100736572766963657300000000080004000000000115000700000f683d66303933623937376534633600000000',
  'a06:020000000b00010068616c64697200000f000200707265726f7574696e6700006000048024000180090001006d657461000000001400028008000200000000030800010000000001380001800b0001006c6f6f6b7570000028000280080002000000000108000300000000000c00010066776d61726b7300080004000000000215000700000f683d38343665326437363464646200000000',
  'a06:020000000b00010068616c646972000010000200706f7374726f7574696e6700600104802000018007000100637400001400028008000200000000020800010000000001440001800c0001006269747769736500340002800800010000000001080002000000000108000300000000040c00048008000100200000000c00058008000100000000002c00018008000100636d700020000280080001000000000108000200000000010c00038008000100000000002800018007000100637400001c000280080002000000001408000100000000010500030000000000340001800c0001007061796c6f616400240002800800010000000009080002000000000108000300000000100800040000000004340001800c0001007061796c6f61640024000280080001000000000a0800020000000002080003000000000208000400000000023c0001800b00010064796e73657400002c000280080004000000000108000300000000010d00010072735f737461747300000000080002000000000415000700000f683d35323566356430333333386400000000',
  'a06:020000000b00010068616c646972000010000200706f7374726f7574696e6700000104802000018007000100637400001400028008000200000000020800010000000001440001800c0001006269747769736500340002800800010000000001080002000000000108000300000000040c00048008000100200000000c00058008000100000000002c00018008000100636d700020000280080001000000000108000200000000010c00038008000100000000002800018007000100637400001c000280080002000000001408000100000000010500030000000000300001800b0001006c6f6f6b75700000200002800800020000000001090001006d61737100000000080004000000000514000180090001006d617371000000000400028015000700000f683d35373964643538636134666600000000',
  'a09:020000000b00010068616c64697200000c0002005f5f6d6170256400080003000000000b0800040000000004080005000000000408000600000001cd080007000000000808000a00000000080c000980080001000000000316000d000004010000000104000000000604000000000000',
  'a0c:020000000b00010068616c64697200000c0002005f5f6d6170256400080004000000000864000380200001800c0001800800010000000000100002800c0001000a0000151f900000200002800c0001800800010001000000100002800c0001000a0000151f900000200003800c0001800800010002000000100002800c0001000a0000161f900000',
  'a06:020000000b00010068616c64697200001900020076732f7463702f31302e302e302e3130302f38300000000004010480140001800c000100636f756e746572000400028024000180090001006d6574610000000014000280080002000000001008000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800500010006000000340001800b0001006e756d67656e0000240002800800010000000001080002000000000308000300000000000800040000000000380001800b0001006c6f6f6b7570000028000280080002000000000108000300000000010c0001005f5f6d6170256400080004000000000830000180080001006e617400240002800800010000000001080002000000000208000300000000010800050000000009280007000022683d39356638643730303531666620777272207065722d636f6e6e656374696f6e00',
  'a09:020000000b00010068616c64697200000c0002005f5f6d6170256400080003000000000b080004000000000408000500000000040800060000000007080007000000000408000a00000000090c000980080001000000000216000d000004010000000104020000000604000000000000',
  'a0c:020000000b00010068616c64697200000c0002005f5f6d617025640008000400000000093c0003801c0001800c00018008000100000000000c000280080001000a0000151c0002800c00018008000100010000000c000280080001000a000016',
  'a06:020000000b00010068616c64697200000f00020076732f66776d2f352f340000fc000480140001800c000100636f756e746572000400028024000180090001006d6574610000000014000280080002000000001008000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800500010006000000340001800b0001006e756d67656e0000240002800800010000000001080002000000000208000300000000000800040000000000380001800b0001006c6f6f6b7570000028000280080002000000000108000300000000010c0001005f5f6d6170256400080004000000000928000180080001006e6174001c000280080001000000000108000200000000020800030000000001270007000021683d643536336666366362303964207272207065722d636f6e6e656374696f6e0000',
  'a06:020000000b00010068616c64697200001900020076732f7463702f31302e302e302e3130302f38340000000048000480140001800c000100636f756e7465720004000280300001800e000100696d6d6564696174650000001c0002800800010000000000100002800c0002800800010000000000270007000021683d666433653334366330336332207272206e6f2d64657374696e6174696f6e0000',
  'a09:0a0000000b00010068616c64697200000c0002005f5f6d6170256400080003000000000b08000400000000040800050000000004080006000000020d080007000000001408000a000000000a0c000980080001000000000416000d000004010000000104000000000604000000000000',
  'a0c:0a0000000b00010068616c64697200000c0002005f5f6d6170256400080004000000000ab40003802c0001800c00018008000100000000001c00028018000100fd0000000000000000000000000000211f9000002c0002800c00018008000100010000001c00028018000100fd0000000000000000000000000000221f9000002c0003800c00018008000100020000001c00028018000100fd0000000000000000000000000000221f9000002c0004800c00018008000100030000001c00028018000100fd0000000000000000000000000000211f900000',
  'a06:0a0000000b00010068616c64697200001800020076732f7463702f666430305f5f3130302f38300084010480140001800c000100636f756e746572000400028024000180090001006d6574610000000014000280080002000000001008000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800500010011000000340001800c0001007061796c6f616400240002800800010000000002080002000000000108000300000000080800040000000010340001800c0001007061796c6f6164002400028008000100000000030800020000000002080003000000000008000400000000024c0001800900010068617368000000003c0002800800010000000002080002000000000108000300000000140800040000000004080005001401834108000600000000000800070000000000380001800b0001006c6f6f6b7570000028000280080002000000000108000300000000010c0001005f5f6d6170256400080004000000000a30000180080001006e617400240002800800010000000001080002000000000a08000300000000010800050000000002370007000031683d663839396133356532316434206d68206d61676c65762034202b706f7274207365656420307831343031383334310000',
  'a06:050000000b00010068616c646972000012000200696e67726573732f7665746830000000e800048024000180090001006d6574610000000014000280080002000000000808000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800600010001000000340001800c0001007061796c6f616400240002800800010000000001080002000000000008000300000000060800040000000006300001800b0001006c6f6f6b757000002000028008000200000000010c00010072735f6d616373000800040000000007300001800e000100696d6d6564696174650000001c0002800800010000000000100002800c000280080001000000000115000700000f683d39353063343563633832656500000000',
  'a06:050000000b00010068616c646972000012000200696e67726573732f76657468300000006401048024000180090001006d6574610000000014000280080002000000001308000100000000012c00018008000100636d700020000280080001000000000108000200000000000c000380050001000000000024000180090001006d6574610000000014000280080002000000000108000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800600010008000000340001800c0001007061796c6f61640024000280080001000000000108000200000000010800030000000010080004000000000424000180090001006d657461000000001400028008000200000000100800010000000009340001800c0001007061796c6f61640024000280080001000000000a080002000000000208000300000000020800040000000002340001800b0001006c6f6f6b7570000024000280080002000000000108000300000000000800010064723400080004000000000615000700000f683d36383663356137323631666600000000',
  'a06:050000000b00010068616c64697200002600020076732f7463702f31302e302e302e3230302f38302f31302e302e302e32312f383000000074010480140001800c000100636f756e746572000400028024000180090001006d6574610000000014000280080002000000000808000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800600010001000000300001800e000100696d6d6564696174650000001c0002800800010000000001100002800a0001000200000000110000340001800c0001007061796c6f616400240002800800050000000001080002000000000008000300000000060800040000000006300001800e000100696d6d6564696174650000001c0002800800010000000001100002800a0001000200000000210000340001800c0001007061796c6f6164002400028008000500000000010800020000000000080003000000000008000400000000062c0001800e000100696d6d6564696174650000001800028008000100000000010c00028008000100030000001800018008000100667764000c0002800800010000000001190007000013683d64653562393534643932633220773d3100000000',
  'a06:050000000b00010068616c64697200002600020076732f7463702f31302e302e302e3230302f38302f31302e302e302e31312f383000000048000480140001800c000100636f756e7465720004000280300001800e000100696d6d6564696174650000001c0002800800010000000000100002800c0002800800010000000001190007000013683d64313864653134323434336320773d3100000000',
  'a09:050000000b00010068616c64697200000c0002005f5f6d6170256400080003000000000b0800040000000004080005000000000408000600ffffff00080007000000000008000a000000000b0c000980080001000000000320000d0000040100000001040000000004080004010000000100060400000000',
  'a0c:050000000b00010068616c64697200000c0002005f5f6d6170256400080004000000000bdc000380480001800c0001800800010000000000380002803400028008000100fffffffc2600020076732f7463702f31302e302e302e3230302f38302f31302e302e302e32312f3830000000480002800c0001800800010001000000380002803400028008000100fffffffc2600020076732f7463702f31302e302e302e3230302f38302f31302e302e302e31312f3830000000480003800c0001800800010002000000380002803400028008000100fffffffc2600020076732f7463702f31302e302e302e3230302f38302f31302e302e302e32312f3830000000',
  'a06:050000000b00010068616c64697200001900020076732f7463702f31302e302e302e3230302f38300000000020010480140001800c000100636f756e746572000400028024000180090001006d6574610000000014000280080002000000000108000100000000012c00018008000100636d700020000280080001000000000108000200000000000c0003800600010008000000340001800c0001007061796c6f6164002400028008000100000000020800020000000001080003000000000c08000400000000044c0001800900010068617368000000003c000280080001000000000208000200000000010800030000000004080004000000000308000500e6268c4708000600000000000800070000000000380001800b0001006c6f6f6b7570000028000280080002000000000108000300000000000c0001005f5f6d6170256400080004000000000b31000700002b683d656330656433663330306439206d68206d61676c657620332073656564203078653632363863343700000000',
  'a0c:020000000b00010068616c64697200000d0002007365727669636573000000000800040000000001480003804400018014000180100001000a00006406000000005000002c0002802800028008000100fffffffc1900020076732f7463702f31302e302e302e3130302f383000000000',
  'a0c:020000000b00010068616c64697200000c00020066776d61726b7300080004000000000234000380300001800c0001800800010005000000200002801c00028008000100fffffffc0f00020076732f66776d2f352f340000',
  'a0c:020000000b00010068616c64697200000a000200646573747300000008000400000000035c0003802c0001801c000180180001000a00006406000000005000000a0000151f9000000c00028008000100020000002c0002801c000180180001000a00006411000000003500000a000016003500000c0002800800010000000000',
  'a0c:020000000b00010068616c6469720000090002006d61737100000000080004000000000514000380100001800c000180080001000a000064',
  'a0c:050000000b00010068616c646972000008000200647234000800040000000006480003804400018014000180100001000a0000c806000000005000002c0002802800028008000100fffffffc1900020076732f7463702f31302e302e302e3230302f383000000000',
  'a0c:050000000b00010068616c64697200000c00020072735f6d6163730008000400000000071800038014000180100001800a0001000200000000210000',
  '11:0000000a',
];
const CHANGE_NFT = [
  '10:0000000a',
  'a08:020000000b00010068616c64697200001900020076732f7463702f31302e302e302e3130302f383400000000',
  'a0e:020000000b00010068616c64697200000a000200646573747300000024000380200001801c000180180001000a00006411000000003500000a00001600350000',
  'a05:020000000b00010068616c64697200001900030076732f7463702f31302e302e302e3130302f383400000000',
  'a0b:020000000b00010068616c64697200000c00020066776d61726b7300',
  'a08:020000000b00010068616c64697200000f00020076732f66776d2f352f340000',
  'a05:020000000b00010068616c64697200000f00030076732f66776d2f352f340000',
  'a02:0a0000000b00010068616c6469720000',
  '11:0000000a',
];

const IFINDEX = (name: string): number => (name === 'veth0' ? 3 : -19);
const hexMessages = (buf: Buffer): string[] => parseNlmsgs(buf).map((m) => `${m.type.toString(16)}:${m.payload.toString('hex')}`);

const DESTS = map('dests', ['ipv4_addr', 'inet_proto', 'inet_service', 'ipv4_addr', 'inet_service'], 'mark');

/** The NFTA_SET_ELEM_LIST_ELEMENTS of a NEWSETELEM/DELSETELEM payload: each element's key bytes. */
function elementKeys(payload: Buffer): { listLen: number; keys: Buffer[]; types: number[] } {
  const list = parseRtattrs(payload, 4).get(3)!;
  const keys: Buffer[] = [];
  const types: number[] = [];
  let off = 0;
  while (off + 4 <= list.length) {
    const len = list.readUInt16LE(off);
    types.push(list.readUInt16LE(off + 2) & 0x3fff);
    const key = parseRtattrs(list.subarray(off + 4, off + len), 0).get(1)!; // NFTA_SET_ELEM_KEY
    keys.push(parseRtattrs(key, 0).get(1)!); // NFTA_DATA_VALUE
    off += (len + 3) & ~3;
  }
  return { listLen: list.length + 4, keys, types };
}

describe('nf_tables netlink codec', () => {
  it('writes what nft 1.0.6 writes: tables, sets and maps, base and regular chains, every rule shape, elements', () => {
    const b = encodeBatch(MAIN, { ifindex: IFINDEX });
    const mine = hexMessages(b.buf);
    assert.equal(mine.length, MAIN_NFT.length);
    mine.forEach((m, i) => assert.equal(m, MAIN_NFT[i], `message ${i} differs from nft's`));
  });

  it('writes what nft writes for flushes and deletes', () => {
    assert.deepEqual(hexMessages(encodeBatch(CHANGE, { ifindex: IFINDEX }).buf), CHANGE_NFT);
  });

  it('one batch: BEGIN … END to nf_tables, consecutive sequence numbers, flags per operation, ACK asked on END', () => {
    const b = encodeBatch([...SETUP, ...CHANGE], { seq: 100, ifindex: IFINDEX });
    const m = parseNlmsgs(b.buf);
    assert.equal(m[0]!.type, NFNL_MSG_BATCH_BEGIN);
    assert.equal(m.at(-1)!.type, NFNL_MSG_BATCH_END);
    for (const x of [m[0]!, m.at(-1)!]) assert.equal(x.payload.readUInt16BE(2), 10, 'res_id NFNL_SUBSYS_NFTABLES, big-endian');
    assert.deepEqual(m.map((x) => x.seq), m.map((_, i) => 100 + i));
    assert.equal(m.at(-1)!.flags, 0x1 | 0x4, 'END: REQUEST|ACK (kernels since 6.10 confirm the batch)');
    assert.equal(m[1]!.flags, 0x1 | 0x400 | 0x200, 'NEWTABLE of a table made here: CREATE|EXCL');
    const delTable = m.findIndex((x) => x.type === ((10 << 8) | 2));
    assert.equal(m[delTable]!.flags, 0x1, 'deletes: REQUEST only');
    assert.deepEqual(b.messages.map((x) => x.op), [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1]);
    const rules = parseNlmsgs(encodeBatch(MAIN, { ifindex: IFINDEX }).buf).filter((x) => x.type === ((10 << 8) | 6));
    assert.ok(rules.length > 0 && rules.every((x) => x.flags === (0x1 | 0x400 | 0x800)), 'NEWRULE: REQUEST|CREATE|APPEND');
  });

  it("in a table the batch creates, names the inline maps as the kernel would (__map0, …) instead of asking it to scan for a free number", () => {
    const names = (ops: NftOp[]): string[] =>
      parseNlmsgs(encodeBatch(ops, { ifindex: IFINDEX }).buf)
        .filter((x) => x.type === ((10 << 8) | 9) && (parseRtattrs(x.payload, 4).get(3)!.readUInt32BE(0) & 1) === 1)
        .map((x) => `${x.payload[0]} ${parseRtattrs(x.payload, 4).get(2)!.toString('latin1').replace(/\0+$/, '')}`);
    assert.deepEqual(names([...SETUP, ...MAIN]), ['2 __map0', '2 __map1', '10 __map0', '5 __map0'], 'numbered per table (family 2 ip, 10 ip6, 5 netdev)');
    assert.deepEqual(names(MAIN), ['2 __map%d', '2 __map%d', '10 __map%d', '5 __map%d'], 'tables that exist: the kernel picks');
  });

  it('cuts a long element list into messages netlink can carry (an attribute is at most 65535 bytes), keeping every element', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `10.1.${i >> 8}.${i & 255} . tcp . 80 . 10.2.${i >> 8}.${i & 255} . 8080`);
    const b = encodeBatch([{ op: 'add element', family: 'ip', table: 'haldir', map: DESTS, keys, values: keys.map((_, i) => String(i % 7)) }], { ifindex: IFINDEX });
    const msgs = parseNlmsgs(b.buf).slice(1, -1);
    assert.ok(msgs.length >= 2, `${msgs.length} message(s)`);
    const all: Buffer[] = [];
    for (const m of msgs) {
      const e = elementKeys(m.payload);
      assert.ok(e.listLen <= 65535, `element list of ${e.listLen} bytes`);
      assert.deepEqual(e.types, e.types.map((_, i) => i + 1), 'elements numbered from 1 in each message');
      all.push(...e.keys);
    }
    assert.equal(all.length, 3000);
    // Key 1234: 10.1.4.210 . tcp . 80 . 10.2.4.210 . 8080, each part padded to 4 bytes.
    assert.equal(all[1234]!.toString('hex'), '0a0104d2' + '06000000' + '00500000' + '0a0204d2' + '1f900000');
    assert.equal(opsText([{ op: 'add element', family: 'ip', table: 'haldir', map: DESTS, keys, values: keys.map(() => '1') }]).length, 3, 'nft -f: 1000 elements per command');
  });

  it('maps a refused message back to its op, and an element list message (with the attribute offset) to the element', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => `10.1.${i >> 8}.${i & 255} . tcp . 80 . 10.2.0.1 . 8080`);
    const ops: NftOp[] = [...CHANGE.slice(0, 1), { op: 'delete element', family: 'ip', table: 'haldir', map: DESTS, keys, values: keys.map(() => '') }];
    const b = encodeBatch(ops, { seq: 7, ifindex: IFINDEX });
    assert.deepEqual(locateFailure(b, 8), { op: 0 });
    assert.deepEqual(locateFailure(b, 7), { op: -1 }, 'BEGIN: the batch as a whole');
    assert.equal(locateFailure(b, 999), undefined);
    // The second element message: find element 10 of it by its offset, as the kernel's extended ACK gives it.
    const second = b.messages[3]!;
    const at = second.elements!.offsets[10]!;
    assert.deepEqual(locateFailure(b, second.seq, at + 4), { op: 1, element: second.elements!.first + 10 });
    const d = describeRefusal(ops, b, { seq: second.seq, errno: 2, offset: at });
    assert.equal(d.code, 'ENOENT');
    assert.match(d.message, new RegExp(`^nftables refused the transaction, nothing was changed: delete element ip haldir dests \\{ ${keys[second.elements!.first + 10]!.replace(/\./g, '\\.')} \\}: ENOENT`));
    assert.match(describeRefusal(ops, b, { seq: 8, errno: 22, extack: 'some kernel text' }).message, /: flush chain ip haldir vs\/tcp\/10\.0\.0\.100\/84: EINVAL \(invalid argument\): some kernel text$/);
  });

  it('refuses, before sending anything, what cannot be written — naming the value and the op', () => {
    const bad = (ops: NftOp[], re: RegExp): void => assert.throws(() => encodeBatch(ops, { ifindex: IFINDEX }), (e: unknown) => e instanceof NfnlEncodeError && re.test(e.message));
    const el = (keys: string[], m: NftMap = DESTS): NftOp[] => [{ op: 'add element', family: 'ip', table: 'haldir', map: m, keys, values: keys.map(() => '1') }];
    bad(el(['10.0.0.300 . tcp . 80 . 10.0.0.1 . 80']), /not an IPv4 address: "10\.0\.0\.300" \(in: add element ip haldir dests\)/);
    bad(el(['10.0.0.1 . tcp . 80']), /element "10\.0\.0\.1 \. tcp \. 80" does not fit the key type ipv4_addr \. inet_proto \. inet_service \. ipv4_addr \. inet_service of dests/);
    bad(el(['10.0.0.1 . tcp . 99999 . 10.0.0.1 . 80']), /not a port: "99999"/);
    bad(el(['1'], map('x', ['ct_state'], '')), /nft type ct_state is not one haldir writes over netlink/);
    bad([rule(WD, 'c', [{ s: 'fwd', dev: 'eth9' }], 'fwd to "eth9"', 'h=0')], /interface "eth9" does not exist \(in: add rule netdev haldir c\)/);
    bad([{ op: 'add rule', ...W4, chain: 'c', rule: undefined, text: 'counter', comment: 'h=0' }], /a rule without its structured form/);
    bad([rule(W4, 'c', [{ s: 'counter' }], 'counter', `h=0 ${'x'.repeat(300)}`)], /comment longer than 254 bytes/);
    bad([rule(W4, 'c', [{ s: 'vmap', key: { fields: ['ip6 daddr'] }, map: 'm' }], 'x', 'h=0')], /ip6 daddr in a table of family ip/);
    bad([{ op: 'add chain', ...W4, chain: chain('x', { base: { type: 'filter', hook: 'ingress', prio: 0 } }) }, { op: 'add chain', ...WD, chain: chain('y', { base: { type: 'filter', hook: 'prerouting', prio: 0 } }) }], /no hook prerouting in family netdev/);
  });
});

describe('backend choice', () => {
  it('HALDIR_NFT_BACKEND picks the nft -f fallback; a wrong value is a clear error on the first reconcile, not a crash', async () => {
    const saved = process.env['HALDIR_NFT_BACKEND'];
    try {
      delete process.env['HALDIR_NFT_BACKEND'];
      assert.equal(new NftablesDataplane().backend, 'netlink');
      process.env['HALDIR_NFT_BACKEND'] = 'nft';
      assert.equal(new NftablesDataplane().backend, 'nft');
      assert.equal(new NftablesDataplane({ backend: 'netlink' }).backend, 'netlink', 'an explicit option wins');
      process.env['HALDIR_NFT_BACKEND'] = 'libnftables';
      const d = new NftablesDataplane();
      await assert.rejects(d.reconcile([], { dryRun: true }), /HALDIR_NFT_BACKEND must be "netlink" \(the default\) or "nft" \(write through nft -f\), not "libnftables"/);
    } finally {
      if (saved === undefined) delete process.env['HALDIR_NFT_BACKEND'];
      else process.env['HALDIR_NFT_BACKEND'] = saved;
    }
  });
});

describe('cached diff: an element several services share', () => {
  it('keeps a masqueraded VIP while another service on it remains (the cached path diffs only changed services)', () => {
    const m = newNodeModel('t');
    for (const port of [80, 81]) {
      const vs = newVirtualServer({ kind: 'ip', address: '10.0.0.100', family: 4, port });
      vs.forwarding = { kind: 'NAT' };
      vs.realServers.push(newRealServer('10.0.0.21', 8080));
      m.virtualServers.push(vs);
    }
    const ctx = { drPath: () => new Error('no DR'), masquerade: true };
    const before = allUpTable(m).map((ds) => renderService(ds, ctx));
    const after = before.slice(0, 1); // service :81 removed
    const changed = new Set([before[1]!.vsKey]);
    const d = diffState(assemble(after, 'haldir', changed), assemble(before, 'haldir', changed));
    assert.ok(d.commands.some((c) => c.startsWith('delete chain ip haldir vs/tcp/10.0.0.100/81')));
    assert.ok(!d.commands.some((c) => c.includes('masq')), d.commands.join('\n'));
    const last = diffState(assemble([], 'haldir', new Set([before[0]!.vsKey])), assemble(after, 'haldir', new Set([before[0]!.vsKey])));
    assert.ok(last.commands.includes('delete table ip haldir'), 'the last service gone: its table (and the VIP with it)');
  });
});
