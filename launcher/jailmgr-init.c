/* jailmgr-init: the host code of a launched jail, around it and inside it.
 *
 * Built static (no dynamic loader, nothing read from the jail's tree), so it
 * can run in the jail as root before the privilege drop without running any
 * code of the jail: not its ld.so.preload, its ld.so.cache or its libraries.
 *
 *   jailmgr-init supervise --stop-signal N [--notify PATH] [--listen-fds N] -- COMMAND...
 *       The unit's main process, on the host.  Runs COMMAND (bubblewrap,
 *       perhaps behind nsenter or the user-namespace helper) and:
 *       - lets the stop signal reach the program: COMMAND and bubblewrap
 *         ignore the signals systemd sends the whole control group, so they
 *         outlive them; the program gets them itself, as it would without
 *         the launcher, and has the stop timeout to exit;
 *       - hands the program the signals others send this process (the
 *         unit's ExecReload=, an operator's kill of the main PID): through
 *         the go pipe to the init, which runs as the program and signals it,
 *         or, when the program is PID 1 itself, directly (CAP_KILL);
 *       - starts the program only if no stop came before it could (the
 *         "go" byte), so a stop during bubblewrap's set-up ends at once;
 *       - relays the program's sd_notify messages to systemd, keeping only
 *         READY, RELOADING, STOPPING and STATUS (a jail must not set MAINPID
 *         or hand systemd descriptors);
 *       - ends as the program ended: its exit code, or killed by its signal;
 *       - with --listen-fds N (socket activation): passes on descriptors 3 to
 *         3+N-1 that systemd gave it (LISTEN_PID naming this process, at least
 *         N of them), with LISTEN_FDS=N and their first N LISTEN_FDNAMES, and
 *         keeps none itself; otherwise no LISTEN_* reaches the jail at all;
 *       - with --time, makes the jail's time namespace before COMMAND.
 *
 *   jailmgr-init init --uid U --gid G --groups G,G --caps HEX --workdir DIR [--own U:G:DIR]... [--pid1]
 *                     -- PROGRAM ARGS...
 *       Run by bubblewrap inside the jail, as root.  Resets every signal,
 *       closes what it was not given (it keeps LISTEN_FDS' descriptors, as the
 *       supervisor set them), gives each --own DIR (a fresh tmpfs bubblewrap
 *       just mounted: walked without following a symlink, checked to be a
 *       tmpfs) to U:G, drops the bounding set to HEX, sets
 *       the groups and ids, clears the inheritable and ambient sets, makes
 *       itself non-dumpable, and only then enters DIR (walked from the
 *       jail's root with the program's credentials, no symlink followed).  Then
 *       it waits for the supervisor's go, and runs PROGRAM: with --pid1 by
 *       exec, otherwise as its child, reaping orphans and reporting the
 *       program's wait status to the supervisor.  Right before the exec it
 *       sets LISTEN_PID to the program's pid in the jail's PID namespace
 *       (with LISTEN_FDS), or clears it.
 *
 *   With --credentials (both sides), the secrets systemd loaded for the unit (LoadCredential=) reach the
 *   program: supervise reads $CREDENTIALS_DIRECTORY (systemd's, on the host, root's) into a memfd; the
 *   init, still root, writes them into the fresh tmpfs bubblewrap made at DIR, hands them to the program's
 *   uid and sets CREDENTIALS_DIRECTORY (see the credentials section below).
 *   jailmgr-init exec --time --uid U --gid G --groups G,G --caps HEX --workdir DIR -- PROGRAM ARGS...
 *       A jail on systemd's own directives with a time namespace: run by
 *       systemd as root (ExecStart=!) inside the jail's root, with the rest
 *       of its sandbox already in place.  Makes the time namespace and
 *       enters it, drops as init does, enters DIR as the program, and execs
 *       PROGRAM (same PID: systemd's main PID, its sd_notify and stop work
 *       as without it).
 *
 *   jailmgr-init kill SIGNAL PID
 *       kill(2), for ExecReload= (no dependency on procps' kill).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#define FDS_ENV "JAILMGR_INIT_FDS"
#define NOTIFY_IN_JAIL "/run/host/notify"
#define MAX_GROUPS 64
#define MAX_OWNED 32
#define MAX_LISTEN_FDS 1024

/* The signals systemd sends a whole control group, or an operator a service. */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH, SIGALRM, SIGPWR};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

static const char *mode = "jailmgr-init";

static void die(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "jailmgr-init %s: ", mode);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(code);
}

static long number(const char *text, long low, long high, const char *what)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < low || value > high)
        die(2, "%s: not a number from %ld to %ld: %s", what, low, high, text);
    return value;
}

static sigset_t handled_set(void)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&set, forwarded[i]);
    sigaddset(&set, SIGCHLD);
    return set;
}

/* All of data, or -1 at the first failure (errno; 0 for a short write). */
static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Dies as the program died: by its signal, or with its exit code. */
static void end_as(int status)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        sigset_t all;
        signal(sig, SIG_DFL);
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 255);
}

/* -------------------------------------------------------------- credentials */

#define CREDS_ENV "JAILMGR_INIT_CREDS"
#define CRED_NAME_MAX 255
#define CREDS_TOTAL_MAX (16 << 20)  /* far above systemd's own cap (1 MiB for all of a unit's) */

static void write_checked(int fd, const char *data, size_t len, const char *what)
{
    if (write_all(fd, data, len) < 0)
        die(1, "cannot write %s: %s", what, errno ? strerror(errno) : "short write");
}

/* A name as systemd accepts it for a credential: a file name of its directory, nothing more. */
static int credential_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > CRED_NAME_MAX || memchr(name, '/', len) || memchr(name, 0, len))
        return 0;
    return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

/* supervise: every file of systemd's credentials directory for this unit, as records "NAME\0SIZE\0BYTES",
 * in a memfd the init reads.  The directory is systemd's (given in the environment systemd set), on the
 * host, out of the jail's reach; nothing in it is followed. */
static int pack_credentials(void)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || dir[0] != '/')
        die(1, "--credentials: systemd gave no CREDENTIALS_DIRECTORY (the unit has no LoadCredential=)");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        die(1, "cannot open the credentials directory %s: %s", dir, strerror(errno));
    DIR *d = fdopendir(dfd);
    int out = (int)syscall(SYS_memfd_create, "jailmgr-credentials", MFD_CLOEXEC);
    if (!d || out < 0)
        die(1, "cannot read the credentials: %s", strerror(errno));
    size_t total = 0;
    static char buf[65536];
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t len = strlen(e->d_name);
        if (!credential_name_ok(e->d_name, len))
            continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
            die(1, "cannot read credential %s: %s", e->d_name, fd < 0 ? strerror(errno) : "not a file");
        total += len + (size_t)st.st_size;
        if (total > CREDS_TOTAL_MAX)
            die(1, "the credentials are larger than %d bytes together", CREDS_TOTAL_MAX);
        char head[CRED_NAME_MAX + 32];
        int head_len = snprintf(head, sizeof head, "%s%c%lld%c", e->d_name, 0, (long long)st.st_size, 0);
        write_checked(out, head, (size_t)head_len, "the credentials");
        off_t left = st.st_size;
        while (left > 0) {
            ssize_t n = read(fd, buf, sizeof buf < (size_t)left ? sizeof buf : (size_t)left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                die(1, "cannot read credential %s: %s", e->d_name, n < 0 ? strerror(errno) : "it shrank");
            write_checked(out, buf, (size_t)n, "the credentials");
            left -= n;
        }
        close(fd);
    }
    closedir(d);
    explicit_bzero(buf, sizeof buf);
    if (lseek(out, 0, SEEK_SET) < 0)
        die(1, "lseek: %s", strerror(errno));
    return out;
}

/* A directory of the jail, walked from its root one component at a time, no symlink followed on the
 * way (a magic link from /proc included): what the jail left in a writable place at its last run can't
 * lead this start elsewhere.  `flags` are openat's for each step (O_PATH or O_RDONLY); ".." is refused.
 * Returns the directory's descriptor, or -1 with errno; with `parent`, that of the one above it too. */
static int walk_dir(const char *dir, int flags, int *parent)
{
    char path[4096];
    if (strlen(dir) >= sizeof path || dir[0] != '/') {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(path, dir);
    int up = -1, fd = open("/", flags | O_DIRECTORY | O_CLOEXEC);
    for (char *save = NULL, *name = strtok_r(path, "/", &save); fd >= 0 && name;
         name = strtok_r(NULL, "/", &save)) {
        if (strcmp(name, ".") == 0)
            continue;
        int next = -1;
        if (strcmp(name, "..") == 0)
            errno = EINVAL;
        else
            next = openat(fd, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up >= 0)
            close(up);
        up = fd;
        fd = next;
    }
    if (fd < 0 || !parent) {
        int err = errno;
        if (up >= 0)
            close(up);
        errno = err;
    } else {
        *parent = up;
    }
    return fd;
}

/* init: DIR, walked from the jail's root one component at a time with O_NOFOLLOW, must be the fresh tmpfs
 * bubblewrap made for the credentials: the root of a tmpfs mount of its own (not a directory of /run's),
 * root's (this process's), mode 0700.  Nothing of the jail has run in this mount namespace yet, and no
 * mount of the jail's lies over it (bubblewrap made it after them). */
static int open_credentials_dir(const char *dir)
{
    if (dir[0] != '/')
        die(1, "--credentials: not an absolute path: %s", dir);
    int parent = -1, fd = walk_dir(dir, O_RDONLY, &parent);
    struct stat st, up;
    struct statfs fs;
    if (fd < 0 || parent < 0 || fstat(fd, &st) < 0 || fstat(parent, &up) < 0 || fstatfs(fd, &fs) < 0)
        die(1, "cannot open the credentials directory %s: %s (no symlink may lead there)", dir, strerror(errno));
    close(parent);
    if (fs.f_type != TMPFS_MAGIC || st.st_dev == up.st_dev || st.st_uid != geteuid() ||
        (st.st_mode & 07777) != 0700)
        die(1, "%s is not the launcher's fresh tmpfs (a mount of its own, root's, 0700): credentials refused", dir);
    return fd;
}

/* init, as root of the jail and before the drop: the secrets from the supervisor's memfd into DIR, each
 * file 0400 and DIR 0500, all the program's; no other uid of the jail can read them. */
static void install_credentials(const char *dir, uid_t uid, gid_t gid)
{
    const char *text = getenv(CREDS_ENV);
    char *end;
    long in = text ? strtol(text, &end, 10) : -1;
    if (!text || *end || in < 3)
        die(1, "--credentials: the supervisor passed none (%s is missing)", CREDS_ENV);
    unsetenv(CREDS_ENV);
    int fd = (int)in;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CREDS_TOTAL_MAX)
        die(1, "--credentials: descriptor %d is not the supervisor's", fd);
    size_t size = (size_t)st.st_size;
    const char *data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (data == MAP_FAILED)
        die(1, "cannot map the credentials: %s", strerror(errno));
    int dfd = open_credentials_dir(dir);
    for (size_t at = 0; at < size;) {
        const char *name = data + at;
        const char *name_end = memchr(name, 0, size - at);
        if (!name_end || !credential_name_ok(name, (size_t)(name_end - name)))
            die(1, "--credentials: a damaged record");
        const char *size_text = name_end + 1;
        const char *size_end = size_text < data + size ? memchr(size_text, 0, (size_t)(data + size - size_text)) : NULL;
        if (!size_end || size_end == size_text)
            die(1, "--credentials: a damaged record");
        unsigned long long len = 0;
        for (const char *c = size_text; c < size_end; c++) {
            if (*c < '0' || *c > '9' || len > CREDS_TOTAL_MAX)
                die(1, "--credentials: a damaged record");
            len = len * 10 + (unsigned)(*c - '0');
        }
        const char *bytes = size_end + 1;
        if (len > (size_t)(data + size - bytes))
            die(1, "--credentials: a damaged record");
        int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (out < 0)
            die(1, "cannot create credential %s: %s", name, strerror(errno));
        write_checked(out, bytes, (size_t)len, name);
        if (fchmod(out, 0400) < 0 || fchown(out, uid, gid) < 0)
            die(1, "cannot hand credential %s to uid %u: %s", name, (unsigned)uid, strerror(errno));
        close(out);
        at = (size_t)(bytes + len - data);
    }
    if (fchmod(dfd, 0500) < 0 || fchown(dfd, uid, gid) < 0)
        die(1, "cannot hand %s to uid %u: %s", dir, (unsigned)uid, strerror(errno));
    close(dfd);
    if (size)
        munmap((void *)data, size);
    /* Emptied, not just closed: bubblewrap's monitor on the host still holds the same memfd. */
    if (ftruncate(fd, 0) < 0)
        die(1, "cannot empty the credentials' memfd: %s", strerror(errno));
    close(fd);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);
}

/* ------------------------------------------------------------ time namespace */

/* The jail's own CLOCK_MONOTONIC and CLOCK_BOOTTIME: a new time namespace for the processes made
 * from here on (unshare(2) moves only future children), its offsets written before anything entered
 * it (the kernel refuses them after) so that both clocks start near zero: the jail's uptime is its
 * age (the host's uptime is not hidden: the kernel shows these offsets in /proc/PID/timens_offsets
 * to any process).  An offset of
 * minus the time read just now leaves each clock at or above zero when the kernel checks it a moment
 * later (it refuses a negative one).  Needs CAP_SYS_ADMIN (unshare) and CAP_SYS_TIME (the offsets) over
 * the host's user namespace, which owns the new one: nothing of the jail ever holds them there. */
static void make_time_namespace(void)
{
    struct timespec mono, boot;
    if (unshare(CLONE_NEWTIME) < 0)
        die(1, "cannot make a time namespace: %s", strerror(errno));
    if (clock_gettime(CLOCK_MONOTONIC, &mono) < 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
        die(1, "clock_gettime: %s", strerror(errno));
    /* Minus the reading, as seconds and nanoseconds in [0, 1e9) (the kernel's form): -(s + 1) + (1e9 - ns). */
    long long mono_s = -(long long)mono.tv_sec, boot_s = -(long long)boot.tv_sec;
    long mono_ns = 0, boot_ns = 0;
    if (mono.tv_nsec) {
        mono_s -= 1;
        mono_ns = 1000000000L - mono.tv_nsec;
    }
    if (boot.tv_nsec) {
        boot_s -= 1;
        boot_ns = 1000000000L - boot.tv_nsec;
    }
    char text[128];
    int len = snprintf(text, sizeof text, "monotonic %lld %ld\nboottime %lld %ld\n", mono_s, mono_ns, boot_s, boot_ns);
    /* This process's own /proc entry (procfs, not a path of the jail's). */
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        die(1, "cannot open /proc/self/timens_offsets: %s", strerror(errno));
    ssize_t n = write(fd, text, (size_t)len);  /* one write: the kernel takes the offsets of one call */
    if (n != len)
        die(1, "cannot set the time namespace's offsets: %s", n < 0 ? strerror(errno) : "short write");
    close(fd);
}

/* The program may make no namespace of its own that the unit lets through for jailmgr-init alone: a
 * time namespace (both shapes), and IPC on systemd's directives (there RestrictNamespaces= says "ipc time",
 * not "time": systemd 252 with "time" alone refused every setns(), ours included).  unshare() and setns()
 * with those flags (setns() with nstype 0 too: it means any kind), and clone() with those beyond its
 * exit-signal byte, fail with EPERM from here on, for this process and all it starts (a seccomp filter is
 * inherited and kept across exec).  clone3(), whose flags a filter can't read, fails with ENOSYS (libc
 * falls back to clone): systemd does so under RestrictNamespaces=, but not when the unit lets every kind
 * through (`net: private` beside `time: true` under the launcher), and there root of the jail with
 * CAP_SYS_ADMIN made a time namespace of its own with clone3 (red team 4).  Another architecture's calls
 * are killed by SystemCallArchitectures=native; they are let through here. */
#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static void forbid_namespaces(unsigned int flags)
{
#ifdef NATIVE_AUDIT_ARCH
    enum { CHECK = 14, ERR = 15, ALLOW = 16, NOSYS = 17 };  /* the shared tail: the offsets below count to it */
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 0, ALLOW - 2),
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, NOSYS - 4, 0),
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 7 - 5),
        /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),  /* the low 32 bits */
        /* 6 */ BPF_JUMP(BPF_JMP | BPF_JA, CHECK - 7, 0, 0),
        /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 0, 11 - 8),
        /* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, ERR - 10, 0),  /* nstype 0: any kind, these included */
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JA, CHECK - 11, 0, 0),
        /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, ALLOW - 12),
        /* 12 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        /* 13 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, flags & ~0xffU, ERR - 14, ALLOW - 14),
        /* 14 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, flags, ERR - 15, ALLOW - 15),
        /* 15 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        /* 16 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* 17 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    /* Root with CAP_SYS_ADMIN here: no no_new_privs needed (the unit's NoNewPrivileges= decides that).
     * prctl, not seccomp(2): systemd 252's @system-service lets prctl through, not seccomp. */
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        die(1, "cannot load its filter against namespaces: %s", strerror(errno));
#else
    (void)flags;
#endif
}

/* Into the time namespace just made (the caller itself, not only its children): one thread only. */
static void enter_time_namespace(void)
{
    int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
        die(1, "cannot enter the time namespace: %s", strerror(errno));
    close(fd);
}

/* ---------------------------------------------------------------- supervise */

struct supervisor {
    pid_t child;         /* COMMAND: bubblewrap's monitor, outside the jail */
    int stop_signal;
    int go;              /* write end of the go pipe, -1 once sent or refused */
    int started;         /* the go byte was sent */
    int stopping;        /* a stop came before the program could start */
    int have_status;
    int status;          /* the program's wait status, as the jail's init saw it */
    char record[64];     /* what the init wrote, not yet a whole line */
    size_t record_len;
    struct sockaddr_un systemd;  /* systemd's notify socket */
    socklen_t systemd_len;
};

/* The first child of PID, from /proc/PID/task/PID/children (oldest first). */
static pid_t first_child(pid_t pid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    long found = strtol(buf, NULL, 10);
    return found > 0 ? (pid_t)found : 0;
}

/* The program, when it is PID 1 of its namespace (--pid1): COMMAND's (bubblewrap's) child.  Found by
 * parentage only: names are the jail's. */
static void forward(struct supervisor *s, int sig, int pid1)
{
    if (!pid1) {
        /* To the init, which runs as the program and signals it: no CAP_KILL needed here. */
        if (s->go >= 0) {
            char byte = (char)sig;
            write_all(s->go, &byte, 1);
        }
        return;
    }
    pid_t program = first_child(s->child);
    if (!program)
        return;
    int pidfd = (int)syscall(SYS_pidfd_open, program, 0);
    if (pidfd < 0)
        return;
    /* Still the same process: the pid was not reaped and reused between the two reads. */
    if (first_child(s->child) == program)
        syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
    close(pidfd);
}

static void refuse_start(struct supervisor *s)
{
    s->stopping = 1;
    if (s->go >= 0) {
        close(s->go);  /* the init reads end of file and exits before the program runs */
        s->go = -1;
    }
}

static void on_signal(struct supervisor *s, const struct signalfd_siginfo *info, int pid1)
{
    int sig = (int)info->ssi_signo;
    if (sig == SIGCHLD)
        return;
    /* systemd (PID 1) signals the whole control group: the program got this one itself. */
    int from_systemd = info->ssi_pid == 1;
    if (!s->started) {
        if (sig == s->stop_signal || sig == SIGTERM)
            refuse_start(s);
        return;
    }
    if (!from_systemd)
        forward(s, sig, pid1);
}

static void drain_signals(struct supervisor *s, int sfd, int pid1)
{
    struct signalfd_siginfo info;
    while (read(sfd, &info, sizeof info) == (ssize_t)sizeof info)
        on_signal(s, &info, pid1);
}

/* Records from the init: "r" (ready for the go), "x STATUS" (the program's wait status). */
static void on_record(struct supervisor *s, const char *line, int sfd, int pid1)
{
    if (strcmp(line, "r") == 0 && !s->started && s->go >= 0) {
        /* A stop sent before the init could see it is already queued here: read it first. */
        drain_signals(s, sfd, pid1);
        if (!s->stopping) {
            write_all(s->go, "g", 1);  /* kept open: signals for the program follow, a byte each */
            s->started = 1;
            if (pid1) {
                close(s->go);
                s->go = -1;
            }
        }
    } else if (line[0] == 'x' && line[1] == ' ') {
        char *end;
        long status = strtol(line + 2, &end, 10);
        if (!*end && status >= 0 && status <= 0xffff) {
            s->status = (int)status;
            s->have_status = 1;
        }
    }
}

static int read_records(struct supervisor *s, int fd, int sfd, int pid1)
{
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0)
        return n == 0 || (errno != EINTR && errno != EAGAIN) ? -1 : 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            s->record[s->record_len] = 0;
            on_record(s, s->record, sfd, pid1);
            s->record_len = 0;
        } else if (s->record_len < sizeof s->record - 1) {
            s->record[s->record_len++] = buf[i];
        }
    }
    return 0;
}

static int keep_notify_line(const char *line, size_t len)
{
    static const char *const exact[] = {"READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (len == strlen(exact[i]) && memcmp(line, exact[i], len) == 0)
            return 1;
    if (len > 7 && memcmp(line, "STATUS=", 7) == 0) {
        for (size_t i = 7; i < len; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                return 0;
        return len <= 256;
    }
    return 0;
}

/* One datagram from the jail: what systemd may hear of it is passed on as this process's. */
static void relay_notify(struct supervisor *s, int fd)
{
    char buf[4096], out[4096];
    char control[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {buf, sizeof buf - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int *fds = (int *)CMSG_DATA(c);
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++)
                close(fds[i]);  /* descriptors from the jail go nowhere */
        }
    size_t used = 0;
    for (ssize_t start = 0; start < n;) {
        ssize_t end = start;
        while (end < n && buf[end] != '\n')
            end++;
        size_t len = (size_t)(end - start);
        if (keep_notify_line(buf + start, len) && used + len + 1 <= sizeof out) {
            memcpy(out + used, buf + start, len);
            used += len;
            out[used++] = '\n';
        }
        start = end + 1;
    }
    if (!used || !s->systemd_len)
        return;
    int up = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (up < 0)
        return;
    sendto(up, out, used, MSG_NOSIGNAL, (struct sockaddr *)&s->systemd, s->systemd_len);
    close(up);
}

static int notify_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        die(2, "notify socket path too long: %s", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die(1, "socket: %s", strerror(errno));
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die(1, "cannot bind %s: %s", path, strerror(errno));
    /* The program may run as any user: the socket itself is bound into the jail alone. */
    chmod(path, 0666);
    return fd;
}

static void remember_systemd_socket(struct supervisor *s)
{
    const char *path = getenv("NOTIFY_SOCKET");
    s->systemd_len = 0;
    if (!path || !*path || strlen(path) >= sizeof s->systemd.sun_path)
        return;
    s->systemd.sun_family = AF_UNIX;
    strcpy(s->systemd.sun_path, path);
    if (path[0] == '@')
        s->systemd.sun_path[0] = 0;  /* an abstract address */
    s->systemd_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
}

/* Socket activation: what systemd gave this process for the program (see the top). */
static int pass_listen_fds(int wanted)
{
    const char *pid_text = getenv("LISTEN_PID"), *fds_text = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    int have = 0;
    if (wanted > 0 && pid_text && fds_text) {
        char *end;
        long pid = strtol(pid_text, &end, 10);
        long n = *end ? -1 : strtol(fds_text, &end, 10);
        if (!*end && pid == (long)getpid() && n >= wanted && n <= MAX_LISTEN_FDS)
            have = wanted;
    }
    char kept[4096] = "";
    if (have && names) {
        /* The first `have` names, colon-separated, as systemd listed them in descriptor order. */
        size_t len = 0;
        int count = 0;
        for (const char *p = names; *p && count < have; count++) {
            const char *colon = strchr(p, ':');
            size_t part = colon ? (size_t)(colon - p) : strlen(p);
            if (len + part + 2 > sizeof kept)
                break;
            if (count)
                kept[len++] = ':';
            memcpy(kept + len, p, part);
            len += part;
            kept[len] = 0;
            p = colon ? colon + 1 : p + part;
        }
    }
    unsetenv("LISTEN_PID");  /* the init sets it: the program's pid in the jail */
    unsetenv("LISTEN_FDNAMES");
    unsetenv("LISTEN_FDS");
    if (!have)
        return 0;
    char count_text[16];
    snprintf(count_text, sizeof count_text, "%d", have);
    setenv("LISTEN_FDS", count_text, 1);
    if (names)
        setenv("LISTEN_FDNAMES", kept, 1);
    for (int fd = 3; fd < 3 + have; fd++)
        fcntl(fd, F_SETFD, 0);  /* inherited through COMMAND and bubblewrap */
    return have;
}

static int supervise(int argc, char **argv)
{
    struct supervisor s = {.go = -1, .stop_signal = SIGTERM};
    const char *notify = NULL;
    int pid1 = 0, creds = 0, time_ns = 0, i, listen_fds = 0;
    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--credentials") == 0)
            creds = 1;
        else if (strcmp(argv[i], "--listen-fds") == 0 && i + 1 < argc)
            listen_fds = (int)number(argv[++i], 1, MAX_LISTEN_FDS, "--listen-fds");
        else if (strcmp(argv[i], "--stop-signal") == 0 && i + 1 < argc)
            s.stop_signal = (int)number(argv[++i], 1, 64, "--stop-signal");
        else if (strcmp(argv[i], "--notify") == 0 && i + 1 < argc)
            notify = argv[++i];
        else if (strcmp(argv[i], "--pid1") == 0)
            pid1 = 1;
        else if (strcmp(argv[i], "--time") == 0)
            time_ns = 1;
        else
            die(2, "unknown option %s", argv[i]);
    }
    if (i + 1 >= argc)
        die(2, "usage: supervise --stop-signal N [--notify PATH] [--pid1] [--time] [--credentials] "
               "[--listen-fds N] -- COMMAND...");
    char **command = argv + i + 1;
    /* Before any descriptor of its own is made: systemd's are 3.. */
    int passed = pass_listen_fds(listen_fds);

    prctl(PR_SET_DUMPABLE, 0);  /* nothing of the jail may trace or read the host's side */
    if (time_ns) {
        make_time_namespace();  /* for COMMAND and all below it: bubblewrap, the init, the program */
        forbid_namespaces(CLONE_NEWTIME);
    }
    sigset_t set = handled_set();
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    int go[2], st[2];
    if (sfd < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0)
        die(1, "cannot make its pipes: %s", strerror(errno));
    int nfd = -1;
    remember_systemd_socket(&s);
    unsetenv("NOTIFY_SOCKET");
    if (notify) {
        nfd = notify_socket(notify);
        setenv("NOTIFY_SOCKET", NOTIFY_IN_JAIL, 1);
    }
    char fds[32];
    snprintf(fds, sizeof fds, "%d,%d", go[0], st[1]);
    int creds_fd = creds ? pack_credentials() : -1;
    s.child = fork();
    if (s.child < 0)
        die(1, "fork: %s", strerror(errno));
    if (s.child == 0) {
        /* COMMAND and bubblewrap ignore what systemd sends the control group; the init resets it. */
        for (size_t k = 0; k < N_FORWARDED; k++)
            signal(forwarded[k], SIG_IGN);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        fcntl(go[0], F_SETFD, 0);
        fcntl(st[1], F_SETFD, 0);
        setenv(FDS_ENV, fds, 1);
        if (creds_fd >= 0) {
            char fd_text[16];
            snprintf(fd_text, sizeof fd_text, "%d", creds_fd);
            fcntl(creds_fd, F_SETFD, 0);
            setenv(CREDS_ENV, fd_text, 1);
        }
        execv(command[0], command);
        die(127, "cannot execute %s: %s", command[0], strerror(errno));
    }
    close(go[0]);
    close(st[1]);
    if (creds_fd >= 0)
        close(creds_fd);  /* the secrets live on in the jail's tmpfs alone */
    s.go = go[1];
    /* The program has them: this side keeps no socket of the jail's clients (nor a connection: an
     * accept: true instance's stdin and stdout; it never reads or writes those), so a client sees the
     * end when the program ends its side. */
    for (int fd = 3; fd < 3 + passed; fd++)
        close(fd);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        struct stat st0;
        for (int fd = 0; fd <= 1; fd++)
            if (fstat(fd, &st0) == 0 && S_ISSOCK(st0.st_mode))
                dup2(null, fd);
        close(null);
    }
    int child_status = 0, child_done = 0, records_open = 1;
    while (!child_done || records_open) {
        struct pollfd p[3] = {{sfd, POLLIN, 0}, {records_open ? st[0] : -1, POLLIN, 0}, {nfd, POLLIN, 0}};
        if (poll(p, 3, child_done ? 1000 : -1) < 0) {
            if (errno == EINTR)
                continue;
            die(1, "poll: %s", strerror(errno));
        }
        if (p[0].revents)
            drain_signals(&s, sfd, pid1);
        if (p[1].revents && read_records(&s, st[0], sfd, pid1) < 0)
            records_open = 0;
        if (p[2].revents)
            relay_notify(&s, nfd);
        if (!child_done) {
            pid_t done = waitpid(s.child, &child_status, WNOHANG);
            if (done == s.child) {
                child_done = 1;
                if (s.go >= 0)
                    refuse_start(&s);
            }
        } else if (!p[1].revents) {
            records_open = 0;  /* COMMAND is gone and nothing more came: what is left of the jail has no say */
        }
    }
    if (notify)
        unlink(notify);
    if (s.have_status)
        end_as(s.status);
    end_as(child_status);
    return 0;
}

/* --------------------------------------------------------------------- init */

/* How many socket descriptors the supervisor passed on (LISTEN_FDS, host code's all the way). */
static int listen_count(void)
{
    const char *listen = getenv("LISTEN_FDS");
    long n = listen ? strtol(listen, NULL, 10) : 0;
    return n > 0 && n <= MAX_LISTEN_FDS ? (int)n : 0;
}

static int parse_fds(int *go, int *st)
{
    const char *text = getenv(FDS_ENV);
    if (!text || sscanf(text, "%d,%d", go, st) != 2 || *go < 3 || *st < 3)
        return -1;
    unsetenv(FDS_ENV);
    return 0;
}

/* Everything but 0-2, the two given and systemd's LISTEN_FDS is closed. */
static void close_others(int keep_a, int keep_b)
{
    int listen_end = 3 + listen_count();
    int keep[2] = {keep_a < keep_b ? keep_a : keep_b, keep_a < keep_b ? keep_b : keep_a};
    unsigned int from = (unsigned int)listen_end;
    for (int k = 0; k < 2; k++) {
        if ((unsigned int)keep[k] >= from) {
            if ((unsigned int)keep[k] > from)
                syscall(SYS_close_range, from, (unsigned int)keep[k] - 1, 0);
            from = (unsigned int)keep[k] + 1;
        }
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

static void reset_signals(void)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
}

static void drop(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, unsigned long long caps)
{
    for (int cap = 0; cap < 64; cap++) {
        if (caps >> cap & 1)
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break;  /* past the kernel's last capability */
            die(1, "cannot drop capability %d from the bounding set: %s", cap, strerror(errno));
        }
    }
    if (setgroups(n_groups, groups) < 0)
        die(1, "setgroups: %s", strerror(errno));
    if (setresgid(gid, gid, gid) < 0)
        die(1, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
    if (setresuid(uid, uid, uid) < 0)
        die(1, "setresuid(%u): %s", (unsigned)uid, strerror(errno));
    /* Nothing inheritable or ambient, nothing permitted beyond the declared set: the program gets
     * the bounding set as root, nothing otherwise. */
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &head, data) < 0)
        die(1, "capget: %s", strerror(errno));
    data[0].inheritable = data[1].inheritable = 0;
    data[0].permitted &= (unsigned int)caps;
    data[1].permitted &= (unsigned int)(caps >> 32);
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    if (syscall(SYS_capset, &head, data) < 0)
        die(1, "capset: %s", strerror(errno));
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0);
}

static void drop_all_capabilities(void)
{
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &head, data) < 0)
        die(1, "capset: %s", strerror(errno));
}

/* The working directory, entered as the program, one component at a time from the jail's root:
 * a symlink anywhere on the way is refused (a magic link from /proc included), so what the jail
 * left in a writable place at its last run can't lead this start elsewhere. */
static void enter_workdir(const char *dir)
{
    errno = 0;
    int fd = walk_dir(dir, O_PATH, NULL);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || fchdir(fd) < 0)
        die(1, "cannot enter the working directory %s: %s (no symlink may lead there)", dir,
            strerror(errno ? errno : ENOTDIR));
    close(fd);
}

/* A fresh tmpfs bubblewrap mounted for this instance (accept: true), given to its declared owner:
 * walked from the jail's root one component at a time, no symlink followed, and only a tmpfs. */
static void own_dir(const char *spec)
{
    char *end;
    long uid = strtol(spec, &end, 10);
    long gid = *end == ':' ? strtol(end + 1, &end, 10) : -1;
    if (*end != ':' || uid < 0 || gid < 0 || end[1] != '/')
        die(2, "--own: not UID:GID:/DIR: %s", spec);
    const char *dir = end + 1;
    errno = 0;
    int fd = walk_dir(dir, O_PATH, NULL);
    struct statfs fs;
    if (fd < 0 || fstatfs(fd, &fs) < 0 || fs.f_type != TMPFS_MAGIC)
        die(1, "cannot give %s to its owner: not the instance's tmpfs (%s)", dir, strerror(errno ? errno : EINVAL));
    if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
        die(1, "cannot give %s to %ld:%ld: %s", dir, uid, gid, strerror(errno));
    close(fd);
}

/* LISTEN_PID for the process about to exec the program: its own pid, in the jail's PID namespace. */
static void set_listen_pid(void)
{
    if (!getenv("LISTEN_FDS")) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDNAMES");
        return;
    }
    char text[16];
    snprintf(text, sizeof text, "%d", (int)getpid());
    setenv("LISTEN_PID", text, 1);
}

static int exec_code(int err)
{
    return err == ENOENT ? 127 : 126;  /* as a shell says it */
}

/* What init and exec are told of the program: its ids, bounding set, workdir, and where its argv starts. */
struct program_opts {
    long uid, gid;
    unsigned long long caps;
    const char *workdir;
    const char *creds_dir;  /* init: where the credentials' tmpfs is (see the credentials section) */
    const char *owned[MAX_OWNED];  /* init: an accept instance's fresh tmpfs dirs and their owners */
    int n_owned;
    int pid1, time;
    gid_t groups[MAX_GROUPS];
    size_t n_groups;
    char **argv;
};

static void parse_program_opts(int argc, char **argv, struct program_opts *o, const char *usage)
{
    const char *groups_text = "";
    int i, have_caps = 0;
    *o = (struct program_opts){.uid = -1, .gid = -1, .workdir = "/"};
    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--pid1") == 0) {
            o->pid1 = 1;
            continue;
        }
        if (strcmp(opt, "--time") == 0) {
            o->time = 1;
            continue;
        }
        if (!val)
            die(2, "%s needs a value", opt);
        i++;
        if (strcmp(opt, "--uid") == 0)
            o->uid = number(val, 0, 0x7fffffff, "--uid");
        else if (strcmp(opt, "--gid") == 0)
            o->gid = number(val, 0, 0x7fffffff, "--gid");
        else if (strcmp(opt, "--groups") == 0)
            groups_text = val;
        else if (strcmp(opt, "--caps") == 0) {
            char *end;
            o->caps = strtoull(val, &end, 16);
            if (*end || end == val)
                die(2, "--caps: not a hexadecimal mask: %s", val);
            have_caps = 1;
        } else if (strcmp(opt, "--workdir") == 0)
            o->workdir = val;
        else if (strcmp(opt, "--credentials") == 0)
            o->creds_dir = val;
        else if (strcmp(opt, "--own") == 0 && o->n_owned < MAX_OWNED)
            o->owned[o->n_owned++] = val;
        else
            die(2, "unknown option %s", opt);
    }
    if (i + 1 >= argc || o->uid < 0 || o->gid < 0 || !have_caps || o->workdir[0] != '/')
        die(2, "usage: %s", usage);
    o->argv = argv + i + 1;
    for (const char *p = groups_text; *p;) {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p || g < 0 || o->n_groups == MAX_GROUPS)
            die(2, "--groups: not a list of group ids: %s", groups_text);
        o->groups[o->n_groups++] = (gid_t)g;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            die(2, "--groups: not a list of group ids: %s", groups_text);
    }
}

static int init(int argc, char **argv)
{
    struct program_opts o;
    parse_program_opts(argc, argv, &o,
                       "init --uid U --gid G [--groups G,G] --caps HEX --workdir DIR [--pid1] [--credentials DIR] "
                       "-- PROGRAM...");
    if (o.time)
        die(2, "unknown option --time");
    char **program = o.argv;
    int pid1 = o.pid1;

    /* bubblewrap ran with the supervisor's ignored signals; start clean, then hold ours. */
    reset_signals();
    sigset_t set = handled_set(), none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &set, NULL);
    int go, st;
    if (parse_fds(&go, &st) < 0)
        die(1, "run by bubblewrap from `jailmgr-init supervise` only (%s is missing)", FDS_ENV);
    if (o.creds_dir)
        install_credentials(o.creds_dir, (uid_t)o.uid, (gid_t)o.gid);  /* as root, before the drop; closes its fd */
    close_others(go, st);
    fcntl(go, F_SETFD, FD_CLOEXEC);
    fcntl(st, F_SETFD, FD_CLOEXEC);
    if (!listen_count()) {
        unsetenv("LISTEN_FDS");  /* a malformed count keeps nothing, and says nothing */
        unsetenv("LISTEN_FDNAMES");
    }
    for (int k = 0; k < o.n_owned; k++)
        own_dir(o.owned[k]);

    drop((uid_t)o.uid, (gid_t)o.gid, o.groups, o.n_groups, o.caps);
    enter_workdir(o.workdir);

    write_all(st, "r\n", 2);
    char byte = 0;
    ssize_t n;
    do
        n = read(go, &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1 || byte != 'g')
        _exit(0);  /* stopped before it started: nothing of the jail ran */

    if (pid1) {
        close(go);
        close(st);
        sigprocmask(SIG_SETMASK, &none, NULL);
        set_listen_pid();
        execv(program[0], program);
        die(exec_code(errno), "cannot execute %s: %s", program[0], strerror(errno));
    }
    pid_t child = fork();
    if (child < 0)
        die(1, "fork: %s", strerror(errno));
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL);
        set_listen_pid();
        execv(program[0], program);
        die(exec_code(errno), "cannot execute %s: %s", program[0], strerror(errno));
    }
    drop_all_capabilities();  /* the init itself needs none from here on */
    for (int fd = 3, end = 3 + listen_count(); fd < end; fd++)
        close(fd);  /* the program's: the init holds no socket of the jail's clients */
    /* A signal queued here before the program existed was not sent to it: hand it over. */
    sigset_t pending;
    sigpending(&pending);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        die(1, "signalfd: %s", strerror(errno));
    for (size_t k = 0; k < N_FORWARDED; k++)
        if (sigismember(&pending, forwarded[k])) {
            struct signalfd_siginfo info;
            while (read(sfd, &info, sizeof info) == (ssize_t)sizeof info)
                if (info.ssi_signo != SIGCHLD)
                    kill(child, (int)info.ssi_signo);
            break;
        }
    fcntl(go, F_SETFL, O_NONBLOCK);
    for (;;) {
        struct pollfd p[2] = {{sfd, POLLIN, 0}, {go, POLLIN, 0}};
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[1].revents) {
            /* The supervisor's requests: one signal number a byte (ExecReload=, kill of the main PID). */
            unsigned char buf[64];
            ssize_t got = read(go, buf, sizeof buf);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                close(go);
                go = -1;
            }
            for (ssize_t k = 0; k < got; k++)
                for (size_t f = 0; f < N_FORWARDED; f++)
                    if (buf[k] == forwarded[f])
                        kill(child, forwarded[f]);
        }
        if (!p[0].revents)
            continue;
        struct signalfd_siginfo info;
        int reaped = 0;
        while (read(sfd, &info, sizeof info) == (ssize_t)sizeof info)
            reaped |= info.ssi_signo == SIGCHLD;  /* the rest was sent to the whole group: the program has its own */
        if (!reaped)
            continue;
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
            if (done == child) {
                char line[32];
                int len = snprintf(line, sizeof line, "x %d\n", status);
                write_all(st, line, (size_t)len);
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            }
        }
    }
}

/* --------------------------------------------------------------------- exec */

/* A jail on systemd's own directives (RootDirectory=), started as root by ExecStart=!: systemd has
 * already chrooted it and applied the rest of the sandbox.  The time namespace, then exactly the
 * init's drop, the workdir walked as the program, and an exec keeping this PID (systemd's main PID). */
static int exec_program(int argc, char **argv)
{
    struct program_opts o;
    parse_program_opts(argc, argv, &o,
                       "exec --time --uid U --gid G [--groups G,G] --caps HEX --workdir DIR -- PROGRAM...");
    if (o.pid1 || o.creds_dir || o.n_owned)
        die(2, "unknown option %s", o.pid1 ? "--pid1" : o.creds_dir ? "--credentials" : "--own");
    if (o.time) {
        make_time_namespace();
        enter_time_namespace();
        forbid_namespaces(CLONE_NEWTIME | CLONE_NEWIPC);
    }
    drop((uid_t)o.uid, (gid_t)o.gid, o.groups, o.n_groups, o.caps);
    enter_workdir(o.workdir);
    execv(o.argv[0], o.argv);
    die(exec_code(errno), "cannot execute %s: %s", o.argv[0], strerror(errno));
    return 1;
}

/* --------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc >= 2) {
        mode = argv[1];
        if (strcmp(argv[1], "supervise") == 0)
            return supervise(argc - 2, argv + 2);
        if (strcmp(argv[1], "init") == 0)
            return init(argc - 2, argv + 2);
        if (strcmp(argv[1], "exec") == 0)
            return exec_program(argc - 2, argv + 2);
        if (strcmp(argv[1], "kill") == 0 && argc == 4) {
            int sig = (int)number(argv[2], 1, 64, "signal");
            pid_t pid = (pid_t)number(argv[3], 2, 0x7fffffff, "pid");
            if (kill(pid, sig) < 0)
                die(1, "kill %d %d: %s", sig, (int)pid, strerror(errno));
            return 0;
        }
    }
    fprintf(stderr, "usage: jailmgr-init supervise|init|exec|kill ... (run by jailmgr's units)\n");
    return 2;
}
