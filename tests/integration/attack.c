/* A compromised service, as the adversarial tests play it: a static program
 * placed in a running jail's tree and run as the jail's program (or by
 * `jailmgr exec`).  Each command tries one thing and prints one line per
 * try, "NAME: ok" or "NAME: refused (errno text)", so the tests can assert
 * the negative.  It never needs anything from the jail but itself.
 *
 *   attack serve ACTION...   do the actions, then sleep forever (a jail's program)
 *   attack ACTION...         do the actions and exit
 *
 * Actions: caps, kill=PID, scan-kill, mem=PID, tiocsti, userns, escapes,
 * argv, deep=DIR:N, escfile=DIR, symlink=TARGET:LINK, rename=OLD:NEW,
 * write=PATH, once=PATH, sleep=N, cgroup, alloc=MIB, forks=N, spin=SECONDS, breakout=HOSTPID,
 * cwd, seccomp2, getprio, holdio=DIR, comm=HEX, mapdel=DIR:N, rawfile=DIR,
 * notify=LINE;LINE... (sd_notify, with a descriptor of / attached),
 * initfds (reach the init's pipes: its fd table, our own; signal it), vforkhang (stay in vfork for good),
 * notifyflood=N (N datagrams of forbidden lines, 20 descriptors each),
 * sigkill=PID, killuid=UID (SIGKILL every visible process of real uid UID outside our own cgroup),
 * cat=PATH (its first line), say=TEXT (printed, '~' as ESC), exit=N, ptmx=N (open N ptys, held),
 * uptime (CLOCK_BOOTTIME and CLOCK_MONOTONIC, in seconds)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static char **saved_argv;

static void say(const char *what, int rc) {
    if (rc == 0)
        printf("%s: ok\n", what);
    else
        printf("%s: refused (%s)\n", what, strerror(errno));
    fflush(stdout);
}

static void show_file(const char *path, const char *prefixes[]) {
    char line[512];
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s: unreadable (%s)\n", path, strerror(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        for (int i = 0; prefixes[i]; i++)
            if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
                fputs(line, stdout);
    fclose(f);
    fflush(stdout);
}

static void caps(void) {
    const char *want[] = {"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
                          "NoNewPrivs:", "Seccomp:", "Seccomp_filters:", NULL};
    show_file("/proc/self/status", want);
}

static void scan_kill(void) {
    /* Every PID this process may signal: in a jail, only its own. */
    printf("signalable:");
    for (int pid = 1; pid <= 65536; pid++) /* the test container's PIDs are small */
        if (kill(pid, 0) == 0)
            printf(" %d", pid);
    printf("\n");
    fflush(stdout);
}

static void deep(const char *spec) {
    char dir[256];
    int n = 0;
    if (sscanf(spec, "%255[^:]:%d", dir, &n) != 2)
        return;
    int rc = chdir(dir);
    for (int i = 0; rc == 0 && i < n; i++) {
        mkdir("d", 0755);
        rc = chdir("d");
    }
    say("deep", rc);
}

/* The argument area of this process (what /proc/PID/cmdline reads), cleared; its size in *room. */
static char *argv_area(size_t *room) {
    char *start = saved_argv[0];
    char *end = start;
    for (int i = 0; saved_argv[i]; i++)
        end = saved_argv[i] + strlen(saved_argv[i]) + 1;
    *room = (size_t)(end - start);
    memset(start, 0, *room);
    return start;
}

static void argv_disguise(void) {
    /* Rewrite the argument area so /proc/PID/cmdline reads like the launcher. */
    const char *fake = "/usr/bin/bwrap \033[2J--die-with-parent";
    size_t room;
    char *start = argv_area(&room);
    strncpy(start, fake, room - 1);
    prctl(PR_SET_NAME, "bwrap", 0, 0, 0);
    say("argv", 0);
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void comm_bytes(const char *hex) {
    /* Its own name (prctl: at most 15 bytes) and its argv, as raw bytes: 0xff, an escape, anything. */
    char name[16] = {0};
    size_t n = 0;
    for (; n < 15 && hex_digit(hex[2 * n]) >= 0 && hex_digit(hex[2 * n + 1]) >= 0; n++)
        name[n] = (char)(hex_digit(hex[2 * n]) << 4 | hex_digit(hex[2 * n + 1]));
    size_t room;
    char *start = argv_area(&room);
    memcpy(start, name, n < room - 1 ? n : room - 1);
    say("comm", prctl(PR_SET_NAME, name, 0, 0, 0));
    printf("named: %s\n", name); /* and the same bytes in the journal */
    fflush(stdout);
}

static void map_deleted(const char *spec) {
    /* N files with long names, each mapped and then deleted: N "(deleted)" lines in its maps. */
    char dir[256], path[512], stem[201];
    int n = 0, done = 0;
    if (sscanf(spec, "%255[^:]:%d", dir, &n) != 2)
        return;
    memset(stem, 'l', sizeof stem - 1);
    stem[sizeof stem - 1] = 0;
    for (; done < n; done++) {
        snprintf(path, sizeof path, "%s/%s-%06d.so", dir, stem, done);
        int fd = open(path, O_CREAT | O_RDWR | O_EXCL, 0600);
        if (fd < 0)
            break;
        void *at = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        unlink(path);
        if (at == MAP_FAILED)
            break;
    }
    printf("mapdel: %d of %d\n", done, n);
    fflush(stdout);
}

static void alloc_mib(int mib) {
    printf("allocating %d MiB\n", mib);
    fflush(stdout);
    for (int i = 0; i < mib; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("alloc: refused at %d MiB\n", i);
            fflush(stdout);
            return;
        }
        memset(p, 1, 1 << 20);
    }
    printf("alloc: got %d MiB\n", mib);
    fflush(stdout);
}

static void forks(int n) {
    int made = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            for (;;)
                pause();
        if (pid < 0)
            break;
        made++;
    }
    printf("forked: %d (%s)\n", made, made < n ? strerror(errno) : "all");
    fflush(stdout);
}

static void spin(int seconds) {
    time_t end = time(NULL) + seconds;
    volatile unsigned long x = 0;
    while (time(NULL) < end)
        x++;
    printf("spun: %d s\n", seconds);
    fflush(stdout);
}

/* Each attempt in a child of its own: a syscall the filter forbids kills it with SIGSYS. */
static void attempt(const char *what, int (*fn)(long), long arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = fn(arg);
        printf("breakout %s: %s\n", what, rc == 0 ? "ok" : strerror(errno));
        fflush(stdout);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("breakout %s: killed by signal %d\n", what, WTERMSIG(status));
    fflush(stdout);
}

static int b_mount(long unused) { (void)unused; return mount("none", "/tmp", "tmpfs", 0, NULL); }
static int b_module(long unused) {
    (void)unused;
    int fd = open("/attack", O_RDONLY);
    return (int)syscall(SYS_finit_module, fd, "", 0);
}
static int b_ptrace(long pid) { return ptrace(PTRACE_ATTACH, (pid_t)pid, 0, 0) == -1 ? -1 : 0; }
static int b_kill(long pid) { return kill((pid_t)pid, SIGCONT); }
static int b_write(const char *path, const char *value) {
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    return write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -1;
}
static int b_sys(long unused) { (void)unused; return b_write("/sys/kernel/mm/transparent_hugepage/enabled", "never"); }
static int b_procsys(long unused) { (void)unused; return b_write("/proc/sys/vm/swappiness", "7"); }
static int b_mknod(long unused) { (void)unused; return mknod("/data/null2", S_IFCHR | 0666, makedev(1, 3)); }
static int b_hostname(long unused) { (void)unused; return sethostname("owned", 5); }
static int b_settime(long unused) {
    (void)unused;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 3600;
    return clock_settime(CLOCK_REALTIME, &ts);
}

static void breakout(long host_pid) {
    attempt("mount", b_mount, 0);
    attempt("module", b_module, 0);
    attempt("ptrace", b_ptrace, host_pid);
    attempt("kill", b_kill, host_pid);
    attempt("sys", b_sys, 0);
    attempt("procsys", b_procsys, 0);
    attempt("mknod", b_mknod, 0);
    attempt("hostname", b_hostname, 0);
    attempt("settime", b_settime, 0);
    printf("breakout: done\n");
    fflush(stdout);
}

/* The cwd as the kernel has it: "(unreachable)/..." when it lies outside this process's root. */
static void show_cwd(void) {
    char buf[512];
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    printf("cwd: %s\n", n > 0 ? buf : strerror(errno));
    fflush(stdout);
}

/* One filter: getpriority fails with `err`, everything else is allowed. */
static int refuse_getpriority(int err) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpriority, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static void getprio(void) {
    say("getpriority", syscall(SYS_getpriority, 0 /* PRIO_PROCESS */, 0) < 0 ? -1 : 0);
}

static void note(const char *dir, const char *what, int rc) {
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/holdio.log", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0644);
    int n = rc >= 0 ? snprintf(line, sizeof line, "%s: ok\n", what)
                    : snprintf(line, sizeof line, "%s: refused (%s)\n", what, strerror(errno));
    if (fd >= 0) {
        ssize_t written = write(fd, line, (size_t)n);
        (void)written;
        close(fd);
    }
}

/* What the child of holdio read from the command's stdin, into the log. */
static void steal_input(const char *dir) {
    struct pollfd p = {0, POLLIN, 0};
    char buf[256] = {0}, what[300];
    if (poll(&p, 1, 0) == 1) {
        ssize_t n = read(0, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        for (char *c = buf; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        snprintf(what, sizeof what, "read %zd [%s]", n, buf);
        note(dir, what, n > 0 ? 0 : -1);
    }
}

/* The command forks a child that keeps its stdin/stdout (pty or pipes) and goes on writing and
 * reading them; the command itself exits.  The child waits for DIR/go (made once exec returned), then
 * writes and reads once more, logs each try in DIR/holdio.log, and ends by making DIR/holdio.ended. */
static void holdio(const char *dir) {
    char path[256];
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* before the fork: the session leader's exit hangs its terminal's group up */
    if (fork() != 0)
        return;
    snprintf(path, sizeof path, "%s/go", dir);
    for (int i = 0; i < 200 && access(path, F_OK) != 0; i++) { /* 20 s at most */
        note(dir, "tick write", write(1, "child: tick\n", 12) == 12 ? 0 : -1);
        steal_input(dir);
        usleep(100000);
    }
    note(dir, "after-go write", write(1, "child: after-go\n", 16) == 16 ? 0 : -1);
    steal_input(dir);
    snprintf(path, sizeof path, "%s/holdio.ended", dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    _exit(0);
}

/* sd_notify by hand: the lines (';' between them) to $NOTIFY_SOCKET, a descriptor of "/" attached. */
static void notify(const char *lines) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char text[1024];
    snprintf(text, sizeof text, "%s", lines);
    for (char *c = text; *c; c++)
        if (*c == ';')
            *c = '\n';
    if (!path || strlen(path) >= sizeof addr.sun_path) {
        errno = ENOENT;
        say("notify", -1);
        return;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0), root = open("/", O_RDONLY | O_DIRECTORY);
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {text, strlen(text)};
    struct msghdr msg = {.msg_name = &addr, .msg_namelen = sizeof addr, .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &root, sizeof root);
    say("notify", sendmsg(fd, &msg, 0) < 0 ? -1 : 0);
    close(fd);
    close(root);
}

/* The init's go and status pipes: in our own fd table, or through /proc/1/fd; and the init itself, signalled. */
static void init_fds(void) {
    char path[64], link[256], what[64];
    for (int fd = 3; fd < 64; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            printf("own fd %d: %s\n", fd, link);
        }
    }
    for (int fd = 0; fd < 64; fd++) {
        snprintf(path, sizeof path, "/proc/1/fd/%d", fd);
        int got = open(path, O_WRONLY | O_NONBLOCK);
        if (got < 0)
            got = open(path, O_RDONLY | O_NONBLOCK);
        if (got >= 0) {
            snprintf(what, sizeof what, "initfd %d", fd);
            say(what, 0);
            /* A forged status record, and a forged go byte / signal number. */
            ssize_t w = write(got, "x 0\nx 9\n", 8);
            (void)w;
            close(got);
        }
    }
    int sigs[] = {SIGSTOP, SIGTERM, SIGSEGV, SIGKILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        snprintf(what, sizeof what, "signal init %d", sigs[i]);
        say(what, kill(1, sigs[i]));
    }
    printf("initfds: done\n");
    fflush(stdout);
}

/* The program sits in vfork(): its child never execs nor exits, so the program can't be stopped by
 * a ptrace interrupt (a vfork parent waits killable only). */
static void vfork_hang(void) {
    printf("serving\nvforking\n");
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) {
        for (;;)
            syscall(SYS_pause);
    }
}

/* N datagrams to $NOTIFY_SOCKET, each with lines systemd must never hear from a jail and 20 descriptors. */
static void notify_flood(int n) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof addr.sun_path) {
        errno = ENOENT;
        say("notifyflood", -1);
        return;
    }
    strcpy(addr.sun_path, path);
    static const char text[] = "NOTIFYACCESS=all\nFDSTORE=1\nFDNAME=x\nEXTEND_TIMEOUT_USEC=999999999\n"
                               "WATCHDOG_USEC=1\nMAINPID=1\nREADY=1\0MAINPID=1\nSTATUS=a\rMAINPID=1\n";
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0), sent = 0;
    int fds[20];
    for (int i = 0; i < 20; i++)
        fds[i] = open("/", O_RDONLY | O_DIRECTORY);
    char control[CMSG_SPACE(sizeof fds)];
    for (int k = 0; k < n; k++) {
        struct iovec iov = {(void *)text, sizeof text - 1};
        struct msghdr msg = {.msg_name = &addr, .msg_namelen = sizeof addr, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fds);
        memcpy(CMSG_DATA(c), fds, sizeof fds);
        if (sendmsg(fd, &msg, 0) >= 0)
            sent++;
        else if (errno == EAGAIN || errno == ENOBUFS)
            usleep(1000);
    }
    printf("notifyflood: sent %d of %d\n", sent, n);
    fflush(stdout);
}

static void kill_uid(long uid) {
    char mine[512] = "", path[64], theirs[512], line[256];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) { size_t n = fread(mine, 1, sizeof mine - 1, f); mine[n] = 0; fclose(f); }
    for (int pid = 2; pid <= 4194304 / 8; pid++) {
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        f = fopen(path, "r");
        if (!f)
            continue;
        long ruid = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Uid: %ld", &ruid) == 1)
                break;
        fclose(f);
        if (ruid != uid || pid == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
        theirs[0] = 0;
        f = fopen(path, "r");
        if (f) { size_t n = fread(theirs, 1, sizeof theirs - 1, f); theirs[n] = 0; fclose(f); }
        if (strcmp(theirs, mine) == 0)
            continue;
        char what[64];
        snprintf(what, sizeof what, "killuid %d", pid);
        say(what, kill(pid, SIGKILL));
    }
    printf("killuid: done\n");
    fflush(stdout);
}

static void cat_file(const char *path) {
    char line[512] = "";
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("cat %s: refused (%s)\n", path, strerror(errno));
    } else {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        line[strcspn(line, "\n")] = 0;
        printf("cat %s: read \"%s\"\n", path, line);
        fclose(f);
    }
    fflush(stdout);
}

static void open_ptys(int n) {
    /* Each pty made through the jail's /dev/ptmx, held open: whose devpts holds them? */
    int made = 0, first = -1, last = -1;
    for (int i = 0; i < n; i++) {
        int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY);
        if (fd < 0) {
            printf("ptmx: refused (%s)\n", strerror(errno));
            break;
        }
        int num = -1;
        if (ioctl(fd, TIOCGPTN, &num) == 0) {
            if (first < 0)
                first = num;
            last = num;
        }
        made++;
    }
    printf("ptmx: %d opened (pts %d to %d)\n", made, first, last);
    fflush(stdout);
}

static void action(const char *a) {
    if (strcmp(a, "caps") == 0) {
        caps();
    } else if (strncmp(a, "kill=", 5) == 0) {
        char what[64];
        snprintf(what, sizeof what, "kill %s", a + 5);
        say(what, kill(atoi(a + 5), SIGCONT));
    } else if (strcmp(a, "scan-kill") == 0) {
        scan_kill();
    } else if (strncmp(a, "mem=", 4) == 0) {
        char path[64], what[64];
        snprintf(path, sizeof path, "/proc/%s/mem", a + 4);
        snprintf(what, sizeof what, "mem %s", a + 4);
        int fd = open(path, O_RDWR);
        say(what, fd < 0 ? -1 : 0);
    } else if (strcmp(a, "tiocsti") == 0) {
        char c = '!';
        for (int fd = 0; fd < 3; fd++) {
            char what[32];
            snprintf(what, sizeof what, "tiocsti fd%d", fd);
            say(what, ioctl(fd, TIOCSTI, &c));
        }
        int tty = open("/dev/tty", O_RDWR);
        say("open /dev/tty", tty < 0 ? -1 : 0);
        char path[64];
        ssize_t len = readlink("/proc/self/fd/0", path, sizeof path - 1);
        path[len > 0 ? len : 0] = 0;
        printf("stdin is %s\n", path);
    } else if (strcmp(a, "userns") == 0) {
        say("unshare user", unshare(CLONE_NEWUSER));
        pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid(pid, NULL, 0);
        say("clone user", pid > 0 ? 0 : -1);
    } else if (strcmp(a, "escapes") == 0) {
        printf("plain \033]0;owned title\007\033[2J\033[1;31mRED\033[0m\rjailmgr: ftp: destroyed\n");
        fflush(stdout);
    } else if (strcmp(a, "argv") == 0) {
        argv_disguise();
    } else if (strncmp(a, "deep=", 5) == 0) {
        deep(a + 5);
    } else if (strncmp(a, "escfile=", 8) == 0) {
        char path[256];
        snprintf(path, sizeof path, "%s/evil\033[2Jname", a + 8);
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        say("escfile", fd < 0 ? -1 : 0);
    } else if (strncmp(a, "rawfile=", 8) == 0) {
        /* A world-writable file whose name is not UTF-8 (0xff) and holds an escape. */
        char path[256];
        snprintf(path, sizeof path, "%s/raw\377\033[2Jname", a + 8);
        int fd = open(path, O_CREAT | O_WRONLY, 0666);
        say("rawfile", fd < 0 ? -1 : fchmod(fd, 0666));
    } else if (strncmp(a, "symlink=", 8) == 0) {
        char target[256], link[256];
        if (sscanf(a + 8, "%255[^:]:%255s", target, link) == 2)
            say("symlink", symlink(target, link));
    } else if (strncmp(a, "rename=", 7) == 0) {
        char old[256], new[256];
        if (sscanf(a + 7, "%255[^:]:%255s", old, new) == 2)
            say("rename", rename(old, new));
    } else if (strncmp(a, "write=", 6) == 0) {
        int fd = open(a + 6, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        ssize_t n = fd < 0 ? -1 : write(fd, "owned\n", 6);
        say("write", n == 6 ? 0 : -1);
    } else if (strncmp(a, "once=", 5) == 0) {
        /* write=PATH at the first start only (PATH.done remembers it): what apply repairs stays repaired */
        char done[272];
        snprintf(done, sizeof done, "%s.done", a + 5);
        if (access(done, F_OK) != 0) {
            int fd = open(a + 5, O_WRONLY | O_TRUNC);
            ssize_t n = fd < 0 ? -1 : write(fd, "owned\n", 6);
            say("once", n == 6 ? 0 : -1);
            close(open(done, O_CREAT | O_WRONLY, 0644));
        }
    } else if (strncmp(a, "setid=", 6) == 0) {
        /* A set-user-ID file, made three ways: chmod, fchmodat, and open(O_CREAT) with the bit. */
        char path[256];
        snprintf(path, sizeof path, "%s.chmod", a + 6);
        int fd = open(path, O_CREAT | O_WRONLY, 0755);
        if (fd >= 0)
            close(fd);
        say("setid chmod", chmod(path, 04755));
        say("setid fchmodat", fchmodat(AT_FDCWD, path, 02755, 0));
        snprintf(path, sizeof path, "%s.open", a + 6);
        fd = open(path, O_CREAT | O_WRONLY, 04755);
        struct stat st;
        int made = fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 06000);
        say("setid open", made ? 0 : -1);
    } else if (strncmp(a, "sleep=", 6) == 0) {
        sleep((unsigned)atoi(a + 6));
    } else if (strncmp(a, "alloc=", 6) == 0) {
        alloc_mib(atoi(a + 6));
    } else if (strncmp(a, "forks=", 6) == 0) {
        forks(atoi(a + 6));
    } else if (strncmp(a, "spin=", 5) == 0) {
        spin(atoi(a + 5));
    } else if (strncmp(a, "breakout=", 9) == 0) {
        breakout(atol(a + 9));
    } else if (strcmp(a, "cwd") == 0) {
        show_cwd();
    } else if (strcmp(a, "seccomp2") == 0) {
        /* EPERM first, EACCES second: the newest filter's errno is the one getpriority returns. */
        say("seccomp2", refuse_getpriority(EPERM) == 0 && refuse_getpriority(EACCES) == 0 ? 0 : -1);
        getprio();
    } else if (strcmp(a, "getprio") == 0) {
        getprio();
    } else if (strncmp(a, "holdio=", 7) == 0) {
        holdio(a + 7);
    } else if (strncmp(a, "comm=", 5) == 0) {
        comm_bytes(a + 5);
    } else if (strncmp(a, "mapdel=", 7) == 0) {
        map_deleted(a + 7);
    } else if (strncmp(a, "notify=", 7) == 0) {
        notify(a + 7);
    } else if (strcmp(a, "initfds") == 0) {
        init_fds();
    } else if (strcmp(a, "vforkhang") == 0) {
        vfork_hang();
    } else if (strncmp(a, "notifyflood=", 12) == 0) {
        notify_flood(atoi(a + 12));
    } else if (strncmp(a, "sigkill=", 8) == 0) {
        char what[64];
        snprintf(what, sizeof what, "sigkill %s", a + 8);
        say(what, kill(atoi(a + 8), SIGKILL));
    } else if (strncmp(a, "killuid=", 8) == 0) {
        kill_uid(atol(a + 8));
    } else if (strncmp(a, "cat=", 4) == 0) {
        cat_file(a + 4);
    } else if (strcmp(a, "uptime") == 0) {
        struct timespec boot, mono;
        clock_gettime(CLOCK_BOOTTIME, &boot);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        printf("uptime: boottime %lld.%03ld monotonic %lld.%03ld\n", (long long)boot.tv_sec,
               boot.tv_nsec / 1000000, (long long)mono.tv_sec, mono.tv_nsec / 1000000);
        fflush(stdout);
    } else if (strncmp(a, "say=", 4) == 0) {
        char *text = strdup(a + 4);
        for (char *c = text; *c; c++)
            if (*c == '~')
                *c = '\033';
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    } else if (strncmp(a, "exit=", 5) == 0) {
        fflush(stdout);
        _exit(atoi(a + 5));
    } else if (strncmp(a, "ptmx=", 5) == 0) {
        open_ptys(atoi(a + 5));
    } else if (strcmp(a, "cgroup") == 0) {
        const char *all[] = {"", NULL};
        show_file("/proc/self/cgroup", all);
    } else {
        printf("unknown action %s\n", a);
    }
}

int main(int argc, char **argv) {
    saved_argv = argv;
    char **actions = calloc((size_t)argc + 1, sizeof *actions);
    for (int i = 0; i < argc; i++)
        actions[i] = strdup(argv[i]); /* "argv" rewrites the originals */
    int serve = argc > 1 && strcmp(argv[1], "serve") == 0;
    for (int i = serve ? 2 : 1; i < argc; i++)
        action(actions[i]);
    if (serve) {
        printf("serving\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    return 0;
}
