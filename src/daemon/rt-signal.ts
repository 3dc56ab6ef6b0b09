// Real-time signals for the daemon: Node.js cannot handle them, and their default action
// terminates the process — so a migrating operator's `kill -s RTMIN+2` (keepalived's
// JSON dump signal) would kill haldir. The addon's handler turns each arrival into a
// datagram on a socket pair that the event loop polls; `onRtSignal` calls back there.
import { addon } from '../native/addon.js';
import { UV_READABLE } from '../native/constants.js';

/** Calls `cb` on the event loop for each SIGRTMIN+offset; returns a stop function (the handler stays: the signal stays harmless). */
export function onRtSignal(offset: number, cb: () => void): () => void {
  const A = addon();
  const fd = A.rtSignalPipe(offset);
  if (fd < 0) throw new Error(`cannot handle SIGRTMIN+${offset}: errno ${-fd}`);
  const buf = Buffer.alloc(16);
  const poller = new A.Poller(fd, () => {
    let n = 0;
    for (;;) {
      const r = A.recvmsg(fd, buf, null, null);
      if (typeof r === 'number') break; // -EAGAIN: drained (nothing else can fail on a socket pair)
      n++;
    }
    // Several signals before the loop ran are one dump, as with keepalived.
    if (n > 0) cb();
  });
  poller.start(UV_READABLE);
  return () => poller.close();
}
