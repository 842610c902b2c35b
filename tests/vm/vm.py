"""A Debian 12 virtual machine on the unified cgroup v2 hierarchy, for what the container can't enforce.

The container test bed runs on this machine's read-only cgroup v1 controllers;
limits are only ever enforced by a kernel whose PID 1 is systemd on cgroup v2.
QEMU in software emulation (TCG: /dev/kvm here can't run a stock kernel) boots
a debootstrapped Debian 12 in about 10 s:

- the root filesystem (debootstrap minbase, systemd, the kernel, jailmgr's
  runtime packages) and its ext4 image (`mkfs.ext4 -d`, no loop mount) are
  cached under /var/cache/jailmgr-testbed/, keyed by the package list and the
  set-up below; the image is booted with -snapshot, so it stays clean;
- the checkout, a static attack program and the results travel through a 9p
  share; a unit of the image's own (jailmgr-vmtest.service, the only thing of
  a dedicated boot target) installs the checkout, runs tests/vm/inside.py as
  root and powers the machine off;
- QEMU runs under a deadline and is killed by its PID if it hangs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # (run as a script: tests/vm/run)
from tests import testbed

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGES = ("systemd", "systemd-sysv", "dbus", "udev", "kmod", "procps", "util-linux", "iproute2",
            "linux-image-amd64", "initramfs-tools", "python3", "python3-yaml", "python3-jinja2",
            "python3-systemd", "python3-seccomp", "bubblewrap")
SETUP_VERSION = "1"  # bump when _setup below changes
QEMU = "/usr/bin/qemu-system-x86_64"
BOOT_TARGET = "jailmgr-vmtest.target"

RUNNER_UNIT = """\
[Unit]
Description=jailmgr VM tests (tests/vm/inside.py)
After=local-fs.target systemd-udev-settle.service

[Service]
# (Type=simple: a oneshot in the boot transaction would hold the boot up)
Type=simple
StandardOutput=journal+console
ExecStartPre=/bin/mkdir -p /share
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L hostshare /share
ExecStartPre=/share/checkout/scripts/install.sh /
ExecStart=/usr/bin/python3 /share/checkout/tests/vm/inside.py /share/results.json
# (after the tests, or after a failed install: the host then finds no results and says so)
ExecStopPost=/bin/sh -c 'sync; systemctl poweroff --no-block'
"""
TARGET_UNIT = """\
[Unit]
Description=jailmgr VM tests
Requires=basic.target jailmgr-vmtest.service
After=basic.target
AllowIsolate=yes
"""


def log(message: str) -> None:
    print(f"vm: {message}", file=sys.stderr, flush=True)


def unavailable() -> str | None:
    """Why this machine can't run the VM (then the tests are skipped, saying so), or None."""
    if os.geteuid() != 0:
        return "the VM tests need root (debootstrap, the image)"
    for tool in (QEMU, "/usr/sbin/debootstrap", "/usr/sbin/mkfs.ext4"):
        if not os.path.exists(tool):
            return f"{tool} is not installed (apt install qemu-system-x86 debootstrap e2fsprogs)"
    return None


def cache_dir() -> Path:
    # (the units baked into the image are part of the key: editing them builds a new image)
    key = hashlib.sha256(" ".join(["bookworm", SETUP_VERSION, RUNNER_UNIT, TARGET_UNIT, *sorted(PACKAGES)])
                         .encode()).hexdigest()[:12]
    return testbed.CACHE_ROOT / f"vm-bookworm-{key}"


def _setup(root: Path) -> None:
    """A quiet machine that boots straight into the test runner; a small initrd for virtio and ext4."""
    (root / "etc/hostname").write_text("vmtest\n")
    (root / "etc/fstab").write_text("/dev/vda / ext4 rw 0 1\n")
    units = root / "etc/systemd/system"
    for unit in ("serial-getty@ttyS0.service", "getty@tty1.service", "systemd-timesyncd.service",
                 "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_reap.service"):
        (units / unit).unlink(missing_ok=True)
        (units / unit).symlink_to("/dev/null")
    (units / "jailmgr-vmtest.service").write_text(RUNNER_UNIT)
    (units / BOOT_TARGET).write_text(TARGET_UNIT)
    conf = root / "etc/initramfs-tools"
    (conf / "initramfs.conf").write_text("MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\n")
    (conf / "modules").write_text("virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n")
    version = kernel_version(root)
    subprocess.run(["chroot", str(root), "mkinitramfs", "-o", "/boot/initrd-min.img", version], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kernel_version(root: Path) -> str:
    return sorted(p.name.removeprefix("vmlinuz-") for p in (root / "boot").glob("vmlinuz-*"))[-1]


def prepare() -> Path:
    """The cached root filesystem and its image, built once (about two minutes) per package list."""
    target = cache_dir()
    if (target / "image.ext4").exists():
        return target
    testbed.CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-vm-", dir=testbed.CACHE_ROOT))
    rootfs = work / "rootfs"
    log("debootstrapping the VM's Debian 12 into the cache (once per package list; about two minutes)")
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm",
                    str(rootfs), testbed.mirror()], check=True, stdout=subprocess.DEVNULL)
    _setup(rootfs)
    version = kernel_version(rootfs)
    shutil.copy(rootfs / f"boot/vmlinuz-{version}", work / "vmlinuz")
    shutil.copy(rootfs / "boot/initrd-min.img", work / "initrd.img")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(rootfs), str(work / "image.ext4"), "3G"], check=True)
    shutil.rmtree(rootfs)  # the image holds it; the tree itself is not needed again
    os.rename(work, target)  # atomic: a killed build leaves only a .build-vm- directory
    return target


def _share(share: Path) -> None:
    """The checkout as git sees it (tracked and new files), jailmgr-init built here (the VM has no
    compiler), and the static attack program."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=CHECKOUT, check=True,
                           capture_output=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = CHECKOUT / name.decode()
        if src.is_file():
            dest = share / "checkout" / name.decode()
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    subprocess.run(["make", "-s", "-C", str(CHECKOUT / "launcher"), "jailmgr-init"], check=True)
    shutil.copy2(CHECKOUT / "launcher/jailmgr-init", share / "checkout/launcher/jailmgr-init")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(share / "attack"),
                    str(CHECKOUT / "tests/integration/attack.c")], check=True)


def run(deadline: float = 900) -> dict[str, dict[str, object]]:
    """Boot the VM once, run every case inside; their results (case -> {"ok": bool, "detail": str})."""
    image = prepare()
    share = Path(tempfile.mkdtemp(prefix="jailmgr-vm-share-"))
    try:
        _share(share)
        console = share / "console.log"
        argv = ["timeout", "--signal=KILL", str(int(deadline)), QEMU,
                "-accel", "tcg,thread=multi,tb-size=256", "-cpu", "max", "-m", "1536", "-smp", "2",
                "-nographic", "-no-reboot", "-nic", "none", "-snapshot",
                "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
                "-append", "root=/dev/vda rw console=ttyS0 quiet systemd.unified_cgroup_hierarchy=1 "
                f"systemd.unit={BOOT_TARGET}",
                "-drive", f"file={image / 'image.ext4'},if=virtio,format=raw",
                "-virtfs", f"local,path={share},mount_tag=hostshare,security_model=none,id=hs"]
        log("booting the VM (software emulation; boot and tests take a minute or two)")
        started = time.monotonic()
        with open(console, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                proc.wait(timeout=deadline + 30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log(f"the VM ran {time.monotonic() - started:.0f} s")
        results = share / "results.json"
        if not results.exists():
            tail = console.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"the VM wrote no results (qemu exit {proc.returncode}); its console:\n{tail}")
        found: dict[str, dict[str, object]] = json.loads(results.read_text())
        return found
    finally:
        shutil.rmtree(share, ignore_errors=True)


if __name__ == "__main__":
    reason = unavailable()
    if reason:
        sys.exit(f"vm: {reason}")
    outcome = run()
    for case, result in outcome.items():
        print(f"{'ok  ' if result['ok'] else 'FAIL'} {case}: {result['detail']}")
    sys.exit(0 if all(r["ok"] for r in outcome.values()) else 1)
