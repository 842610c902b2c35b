"""The jail file's capability names and the kernel's numbering are one set (model.CAPABILITY_BITS)."""

from jailmgr import model, procfs
from jailmgr.launcher import cap_mask


def test_every_capability_a_jail_may_name_has_its_kernel_bit() -> None:
    assert sorted(model.CAPABILITY_BITS) == sorted(model.CAPABILITIES)
    assert len(set(model.CAPABILITY_BITS)) == 41


def test_the_mask_the_init_is_given_reads_back_as_the_names() -> None:
    names = ["CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETUID", "CAP_SETGID"]
    assert cap_mask(names) == 0x404C0
    assert procfs.decode_caps(f"{cap_mask(names):016x}") == ["setgid", "setuid", "net_bind_service", "sys_chroot"]
