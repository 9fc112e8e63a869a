#!/usr/bin/env bash
# Builds the tiny QEMU test image from Debian packages only: the cloud kernel (apt-get download, extracted) and a
# busybox initramfs whose /init reads the cloud-init NoCloud seed ISO (volume id "cidata"), prints
#   HOLDFAST-BOOT-OK name=<local-hostname> customdata-sha256=<sha256 of user-data>
# on the serial console, asks DHCP for its address (HOLDFAST-NET ip=...), and powers off on an ACPI power-button press.
# Usage: build.sh [OUT_DIR]   (default: test/qemu-image/out). Idempotent: skips when OUT_DIR is already built by this script.
# Needs: apt lists (apt-get update), busybox-static, cpio, gzip.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/out}
STAMP=$(sha256sum "$0" | cut -c1-16)
mkdir -p "$OUT"
exec 9>"$OUT/.lock"; flock 9   # parallel test projects may ask for it at once
if [[ -f "$OUT/vmlinuz" && -f "$OUT/initrd.cpio.gz" && "$(cat "$OUT/.stamp" 2>/dev/null)" == "$STAMP" ]]; then
  echo "qemu test image up to date in $OUT"; exit 0
fi
mkdir -p "$OUT"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
apt-get download linux-image-cloud-amd64 >/dev/null 2> >(grep -v 'unsandboxed' >&2)
KPKG=$(dpkg -I linux-image-cloud-amd64_*.deb | grep -oE 'linux-image-[0-9][^ ,]*-cloud-amd64' | head -1)
apt-get download "$KPKG" >/dev/null 2> >(grep -v 'unsandboxed' >&2)
dpkg -x "$KPKG"_*.deb kernel
KVER=$(ls kernel/lib/modules)
busybox depmod -b kernel "$KVER"   # the .deb ships no modules.dep
MODSRC=kernel/lib/modules/$KVER
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,run,mnt/seed,etc/acpi/PWRF,lib/modules/$KVER}
cp /bin/busybox "$ROOT/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$ROOT/bin/$a"; done
ln -sf ../bin/busybox "$ROOT/sbin/init"
declare -A seen
add() { [[ -n "${seen[$1]:-}" ]] && return; seen[$1]=1
  local deps; deps=$(grep -E "^$1:" "$MODSRC/modules.dep" | cut -d: -f2)
  for d in $deps; do add "$d"; done
  mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$1")"; cp "$MODSRC/$1" "$ROOT/lib/modules/$KVER/$1"
  grep -E "^$1:" "$MODSRC/modules.dep" >> "$ROOT/lib/modules/$KVER/modules.dep"; }
for m in virtio_pci virtio_blk virtio_net isofs button evdev; do
  p=$(grep -E "(^|/)${m//_/[_-]}\.ko:" "$MODSRC/modules.dep" | cut -d: -f1 || true)
  [[ -n "$p" ]] || { echo "module $m not found in $KPKG" >&2; exit 1; }
  add "$p"
done
touch "$ROOT/lib/modules/$KVER/modules.alias"
printf '#!/bin/sh\necho "HOLDFAST-ACPI-POWERBUTTON" > /dev/ttyS0\npoweroff -f\n' > "$ROOT/etc/acpi/PWRF/00000080"
chmod +x "$ROOT/etc/acpi/PWRF/00000080"
cat > "$ROOT/bin/dhcp-event" <<'SCRIPT'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr add "$ip/${mask:-24}" dev "$interface"
echo "HOLDFAST-NET ip=$ip"
SCRIPT
chmod +x "$ROOT/bin/dhcp-event"
cat > "$ROOT/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
exec >/dev/ttyS0 2>&1
echo "HOLDFAST-GUEST kernel=$(uname -r)"
for m in virtio_pci virtio_blk virtio_net isofs button evdev; do modprobe $m 2>/dev/null; done
acpid -c /etc/acpi -l /tmp/acpid.log
NAME=unknown; HASH=none
for i in 1 2 3 4 5 6 7 8 9 10; do
  for d in /dev/vd?; do
    [ -b "$d" ] || continue
    if mount -t iso9660 -o ro "$d" /mnt/seed 2>/dev/null; then
      if [ -f /mnt/seed/meta-data ]; then
        NAME=$(sed -n 's/^local-hostname: *//p' /mnt/seed/meta-data | head -1 | tr -d '"')
        HASH=$(sha256sum /mnt/seed/user-data | cut -d' ' -f1)
        umount /mnt/seed; break 2
      fi
      umount /mnt/seed
    fi
  done
  sleep 0.5
done
hostname "$NAME" 2>/dev/null
echo "HOLDFAST-BOOT-OK name=$NAME customdata-sha256=$HASH"
ip link set lo up; ip link set eth0 up 2>/dev/null && udhcpc -i eth0 -q -n -t 5 -s /bin/dhcp-event 2>&1 | sed "s/^/dhcp: /"
echo "HOLDFAST-READY"
while :; do sleep 3600; done
INIT
chmod +x "$ROOT/init"
( cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -9 ) > "$OUT/initrd.cpio.gz"
cp kernel/boot/vmlinuz-"$KVER" "$OUT/vmlinuz"
echo "$KVER" > "$OUT/kernel-version"
echo "$STAMP" > "$OUT/.stamp"
echo "qemu test image built in $OUT (kernel $KVER)"
