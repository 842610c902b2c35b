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
 *         keeps none itself; otherwise no LISTEN_* reaches the jail at all.
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
 *   jailmgr-init kill SIGNAL PID
 *       kill(2), for ExecReload= (no dependency on procps' kill).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
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

static void write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
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
    int pid1 = 0, i, listen_fds = 0;
    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--listen-fds") == 0 && i + 1 < argc)
            listen_fds = (int)number(argv[++i], 1, MAX_LISTEN_FDS, "--listen-fds");
        else if (strcmp(argv[i], "--stop-signal") == 0 && i + 1 < argc)
            s.stop_signal = (int)number(argv[++i], 1, 64, "--stop-signal");
        else if (strcmp(argv[i], "--notify") == 0 && i + 1 < argc)
            notify = argv[++i];
        else if (strcmp(argv[i], "--pid1") == 0)
            pid1 = 1;
        else
            die(2, "unknown option %s", argv[i]);
    }
    if (i + 1 >= argc)
        die(2, "usage: supervise --stop-signal N [--notify PATH] [--pid1] [--listen-fds N] -- COMMAND...");
    char **command = argv + i + 1;
    /* Before any descriptor of its own is made: systemd's are 3.. */
    int passed = pass_listen_fds(listen_fds);

    prctl(PR_SET_DUMPABLE, 0);  /* nothing of the jail may trace or read the host's side */
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
        execv(command[0], command);
        die(127, "cannot execute %s: %s", command[0], strerror(errno));
    }
    close(go[0]);
    close(st[1]);
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
    char path[4096];
    if (strlen(dir) >= sizeof path)
        die(1, "working directory too long: %s", dir);
    strcpy(path, dir);
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (char *save = NULL, *name = strtok_r(path, "/", &save); fd >= 0 && name;
         name = strtok_r(NULL, "/", &save)) {
        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0) {
            errno = EINVAL;
            close(fd);
            fd = -1;
            break;
        }
        int next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
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
    char path[4096];
    if (strlen(dir) >= sizeof path)
        die(1, "--own: path too long: %s", dir);
    strcpy(path, dir);
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (char *save = NULL, *name = strtok_r(path, "/", &save); fd >= 0 && name;
         name = strtok_r(NULL, "/", &save)) {
        int next = strcmp(name, "..") == 0 ? -1 : openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
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

static int init(int argc, char **argv)
{
    long uid = -1, gid = -1;
    unsigned long long caps = 0;
    const char *workdir = "/", *groups_text = "";
    int pid1 = 0, i, have_caps = 0, n_owned = 0;
    const char *owned[MAX_OWNED];
    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--pid1") == 0) {
            pid1 = 1;
            continue;
        }
        if (!val)
            die(2, "%s needs a value", opt);
        i++;
        if (strcmp(opt, "--uid") == 0)
            uid = number(val, 0, 0x7fffffff, "--uid");
        else if (strcmp(opt, "--gid") == 0)
            gid = number(val, 0, 0x7fffffff, "--gid");
        else if (strcmp(opt, "--groups") == 0)
            groups_text = val;
        else if (strcmp(opt, "--caps") == 0) {
            char *end;
            caps = strtoull(val, &end, 16);
            if (*end || end == val)
                die(2, "--caps: not a hexadecimal mask: %s", val);
            have_caps = 1;
        } else if (strcmp(opt, "--workdir") == 0)
            workdir = val;
        else if (strcmp(opt, "--own") == 0 && n_owned < MAX_OWNED)
            owned[n_owned++] = val;
        else
            die(2, "unknown option %s", opt);
    }
    if (i + 1 >= argc || uid < 0 || gid < 0 || !have_caps || workdir[0] != '/')
        die(2, "usage: init --uid U --gid G [--groups G,G] --caps HEX --workdir DIR [--pid1] -- PROGRAM...");
    char **program = argv + i + 1;
    gid_t groups[MAX_GROUPS];
    size_t n_groups = 0;
    for (const char *p = groups_text; *p;) {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p || g < 0 || n_groups == MAX_GROUPS)
            die(2, "--groups: not a list of group ids: %s", groups_text);
        groups[n_groups++] = (gid_t)g;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            die(2, "--groups: not a list of group ids: %s", groups_text);
    }

    /* bubblewrap ran with the supervisor's ignored signals; start clean, then hold ours. */
    reset_signals();
    sigset_t set = handled_set(), none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &set, NULL);
    int go, st;
    if (parse_fds(&go, &st) < 0)
        die(1, "run by bubblewrap from `jailmgr-init supervise` only (%s is missing)", FDS_ENV);
    close_others(go, st);
    fcntl(go, F_SETFD, FD_CLOEXEC);
    fcntl(st, F_SETFD, FD_CLOEXEC);
    if (!listen_count()) {
        unsetenv("LISTEN_FDS");  /* a malformed count keeps nothing, and says nothing */
        unsetenv("LISTEN_FDNAMES");
    }
    for (int k = 0; k < n_owned; k++)
        own_dir(owned[k]);

    drop((uid_t)uid, (gid_t)gid, groups, n_groups, caps);
    enter_workdir(workdir);

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

/* --------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc >= 2) {
        mode = argv[1];
        if (strcmp(argv[1], "supervise") == 0)
            return supervise(argc - 2, argv + 2);
        if (strcmp(argv[1], "init") == 0)
            return init(argc - 2, argv + 2);
        if (strcmp(argv[1], "kill") == 0 && argc == 4) {
            int sig = (int)number(argv[2], 1, 64, "signal");
            pid_t pid = (pid_t)number(argv[3], 2, 0x7fffffff, "pid");
            if (kill(pid, sig) < 0)
                die(1, "kill %d %d: %s", sig, (int)pid, strerror(errno));
            return 0;
        }
    }
    fprintf(stderr, "usage: jailmgr-init supervise|init|kill ... (run by jailmgr's units)\n");
    return 2;
}
