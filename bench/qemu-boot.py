#!/usr/bin/env python3
# Boot time and RSS of the qemu driver's test image: 5 boots started as the driver starts them (TCG, 128 MiB, 1 vCPU,
# NoCloud seed ISO, user-mode NIC). Prints launch -> HOLDFAST-BOOT-OK (seed read), launch -> HOLDFAST-READY (after
# DHCP) and the QEMU process's VmRSS then. Run test/qemu-image/build.sh first. Usage: python3 bench/qemu-boot.py
import os, pathlib, subprocess, tempfile, time

image = pathlib.Path(__file__).resolve().parent.parent / "test/qemu-image/out"
with tempfile.TemporaryDirectory() as work:
    for name, text in (("meta-data", "instance-id: bench\nlocal-hostname: bench\n"), ("user-data", "hello")):
        pathlib.Path(work, name).write_text(text)
    seed = os.path.join(work, "seed.iso")
    subprocess.run(["genisoimage", "-quiet", "-output", seed, "-volid", "cidata", "-joliet", "-rock",
                    os.path.join(work, "user-data"), os.path.join(work, "meta-data")], check=True)
    for run in range(5):
        start = time.time()
        qemu = subprocess.Popen(
            ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg,tb-size=64", "-m", "128M", "-smp", "1",
             "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
             "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.cpio.gz"),
             "-append", "console=ttyS0 quiet panic=-1",
             "-drive", f"file={seed},if=virtio,format=raw,readonly=on",
             "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        booted = None
        for line in qemu.stdout:
            if b"HOLDFAST-BOOT-OK" in line and booted is None:
                booted = time.time() - start
            if b"HOLDFAST-READY" in line:
                break
        ready = time.time() - start
        rss = open(f"/proc/{qemu.pid}/status").read().split("VmRSS:")[1].split("\n")[0].strip()
        qemu.kill()
        qemu.wait()
        print(f"run {run}: boot marker {booted:.2f} s, ready {ready:.2f} s, VmRSS {rss}", flush=True)
