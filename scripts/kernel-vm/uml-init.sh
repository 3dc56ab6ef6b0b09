#!/bin/busybox sh
# PID 1 of haldir's user-mode-linux test guest (src/lab/uml.ts starts it). The root is
# the host's / over hostfs, read-only; an overlay with a tmpfs upper layer makes it
# writable without ever writing the host. The run directory (haldir.out=DIR on the
# kernel command line) is mounted read-write at /kvout: the command comes from
# /kvout/cmd.sh, its output and exit status go back there.
BB=/bin/busybox
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
$BB mount -t proc proc /proc
$BB mount -t sysfs sysfs /sys
# A writable scratch space: /dev exists on the host's root and takes a tmpfs.
$BB mount -t tmpfs tmpfs /dev
$BB mkdir -p /dev/rw/upper /dev/rw/work /dev/newroot
KVER=$($BB uname -r)
$BB insmod /usr/lib/uml/modules/$KVER/kernel/fs/overlayfs/overlay.ko
$BB mount -t overlay overlay -o lowerdir=/,upperdir=/dev/rw/upper,workdir=/dev/rw/work /dev/newroot || { echo "haldir-uml: overlay mount failed"; $BB poweroff -f; }
R=/dev/newroot
$BB mkdir -p $R/kvout $R/usr/lib/modules
OUT=$(for a in $($BB cat /proc/cmdline); do case $a in haldir.out=*) echo ${a#haldir.out=};; esac; done)
$BB mount -t hostfs -o $OUT none $R/kvout
$BB mount -t hostfs -o /usr/lib/uml/modules none $R/usr/lib/modules
# The guest kernel's modules are loaded with busybox where the host has no kmod.
for p in modprobe insmod rmmod lsmod modinfo depmod; do
  [ -e $R/usr/sbin/$p ] || [ -e $R/usr/bin/$p ] || [ -e $R/sbin/$p ] || $BB ln -s /bin/busybox $R/usr/sbin/$p
done
$BB mount -t proc proc $R/proc
$BB mount -t sysfs sysfs $R/sys
$BB mount -t devtmpfs devtmpfs $R/dev 2>/dev/null || $BB mount -t tmpfs tmpfs $R/dev
$BB mkdir -p $R/dev/pts $R/dev/shm
$BB mount -t devpts devpts $R/dev/pts
$BB mount -t tmpfs tmpfs $R/dev/shm
$BB mount -t tmpfs tmpfs $R/run
$BB ip link set lo up
# PID 1 must chroot itself (it shares fs_struct with kthreadd) so that the kernel's
# usermode helpers (request_module -> /sbin/modprobe, e.g. for ip_vs_rr or a veth)
# run in the overlay root, where modprobe exists.
exec $BB chroot $R /bin/busybox sh -c '
T_CMD=$(cut -d" " -f1 /proc/uptime)
/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8 HALDIR_GUEST=1 \
   /bin/sh /kvout/cmd.sh > /kvout/stdout 2> /kvout/stderr < /dev/null
RC=$?
echo "cmd_start=$T_CMD cmd_end=$(cut -d" " -f1 /proc/uptime)" > /kvout/guest-timing
echo $RC > /kvout/rc.tmp && mv /kvout/rc.tmp /kvout/rc
sync
poweroff -f'
