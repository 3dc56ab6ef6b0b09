// keepalived's defaults (keepalived.conf(5), include/vrrp.h, check/check_api.c),
// shared by every front end so that the same file means the same thing whichever
// way it is read.
import type { CheckerType, GlobalDefs, VrrpGlobals, VrrpNotify } from './types.js';

export const VRRP_DEFAULTS = {
  priority: 100,
  advertInt: 1,
  version: 2 as const,
  downTimerAdverts: 3,
  garpMasterDelay: 5,
  garpMasterRepeat: 5,
  garpMasterRefresh: 0,
  garpMasterRefreshRepeat: 1,
  mcastGroup4: '224.0.0.18',
  mcastGroup6: 'ff02::12',
  /** RFC 3768 §5.3.6.1: the PASS field carries at most 8 octets. */
  authPassMax: 8,
};

export const LVS_DEFAULTS = {
  delayLoop: 60,
  scheduler: 'rr',
  forwarding: 'NAT' as const,
  protocol: 'TCP' as const,
  weight: 1,
  persistenceTimeout: 360,
};

export interface CheckerDefaults {
  connectTimeout: number;
  retry: number;
  /** undefined: defaults to the checker's delay_loop (DNS_CHECK). */
  delayBeforeRetry: number | undefined;
}

/** Per-checker defaults (check_api.c, check_http.c, check_dns.c, check_misc.c). */
export function checkerDefaults(type: CheckerType): CheckerDefaults {
  switch (type) {
    case 'HTTP_GET':
    case 'SSL_GET':
      return { connectTimeout: 5, retry: 1, delayBeforeRetry: 3 };
    case 'DNS_CHECK':
      return { connectTimeout: 5, retry: 3, delayBeforeRetry: undefined };
    case 'MISC_CHECK':
      return { connectTimeout: 5, retry: 0, delayBeforeRetry: 1 };
    default:
      return { connectTimeout: 5, retry: 1, delayBeforeRetry: 1 };
  }
}

export function defaultVrrpGlobals(): VrrpGlobals {
  return {
    mcastGroup4: VRRP_DEFAULTS.mcastGroup4,
    mcastGroup6: VRRP_DEFAULTS.mcastGroup6,
    garpMasterDelay: VRRP_DEFAULTS.garpMasterDelay,
    garpMasterRepeat: VRRP_DEFAULTS.garpMasterRepeat,
    garpMasterRefresh: VRRP_DEFAULTS.garpMasterRefresh,
    garpMasterRefreshRepeat: VRRP_DEFAULTS.garpMasterRefreshRepeat,
    garpInterval: 0,
    gnaInterval: 0,
    minGarp: false,
    downTimerAdverts: VRRP_DEFAULTS.downTimerAdverts,
    version: VRRP_DEFAULTS.version,
    checkUnicastSrc: false,
    skipCheckAdvAddr: false,
    strict: false,
    lowerPrioNoAdvert: false,
    higherPrioSendAdvert: false,
    v3ChecksumAsV2: false,
    logUnknownVrids: false,
  };
}

export function defaultGlobals(): GlobalDefs {
  return {
    notificationEmail: [],
    enableScriptSecurity: false,
    vrrp: defaultVrrpGlobals(),
    lvs: { flush: false },
  };
}

/** The IPVS schedulers keepalived accepts for lb_algo. */
export const IPVS_SCHEDULERS = [
  'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos',
] as const;

/** keepalived's keyword for each notify script of an instance or sync group. */
export const NOTIFY_KEYWORDS: Readonly<Record<keyof VrrpNotify, string>> = {
  master: 'notify_master',
  backup: 'notify_backup',
  fault: 'notify_fault',
  stop: 'notify_stop',
  deleted: 'notify_deleted',
  masterRxLowerPri: 'notify_master_rx_lower_pri',
  generic: 'notify',
};
