/* Red team 4's program: what a compromised service in a time-namespaced jail tries (static).
 *
 *   redteam4_probe serve    print "serve: started", then sleep forever (the jail's program)
 *   redteam4_probe attack   one line each, "NAME: ok ..." or "NAME: refused (errno text)":
 *     clone3_time       clone3(CLONE_NEWTIME): a time namespace of its own (the host's clocks, undone offsets)
 *     clone3_time_user  the same with CLONE_NEWUSER beside it
 *     setns_any         setns(its own time namespace, 0): nstype 0 means "any", which a filter on the flag misses
 *   redteam4_probe offsets  what the kernel shows of its time namespace: "offsets: MONO_S BOOT_S", and
 *                           "sched: S" (se.exec_start of /proc/self/sched: the host's clock, in seconds)
 *   redteam4_probe cred FILE  "cred: <bytes>" or "cred: refused (errno text)"
 *   redteam4_probe size FILE  "size: N" (how many bytes it could read: for a binary file) or "size: refused (...)"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

static void said(const char *name, int ok, const char *more)
{
    if (ok)
        printf("%s: ok%s%s\n", name, more ? " " : "", more ? more : "");
    else
        printf("%s: refused (%s)\n", name, strerror(errno));
    fflush(stdout);
}

/* The child says where it is (its time namespace) and leaves at once. */
static void try_clone3(const char *name, unsigned long long flags)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    fflush(stdout);
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0)
        _exit(0);
    if (pid < 0) {
        said(name, 0, NULL);
        return;
    }
    waitpid((pid_t)pid, NULL, 0);
    said(name, 1, "(a new time namespace)");
}

static void try_setns_any(void)
{
    int fd = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
    int ok = fd >= 0 && setns(fd, 0) == 0;
    said("setns_any", ok, NULL);
}

static void offsets(void)
{
    char buf[256] = "";
    int fd = open("/proc/self/timens_offsets", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (n < 0) {
        said("offsets", 0, NULL);
        return;
    }
    buf[n] = 0;
    long long mono = 0, boot = 0;
    char *m = strstr(buf, "monotonic"), *b = strstr(buf, "boottime");
    if (m)
        mono = strtoll(m + 9, NULL, 10);
    if (b)
        boot = strtoll(b + 8, NULL, 10);
    printf("offsets: %lld %lld\n", mono, boot);
    static char sched[65536];
    fd = open("/proc/self/sched", O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, sched, sizeof sched - 1) : -1;
    char *at = n > 0 ? (sched[n] = 0, strstr(sched, "se.exec_start")) : NULL;
    char *colon = at ? strchr(at, ':') : NULL;
    if (colon)
        printf("sched: %lld\n", (long long)(strtod(colon + 1, NULL) / 1000));
    else
        printf("sched: absent\n");
}

static void cred(const char *path)
{
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (n < 0) {
        said("cred", 0, NULL);
        return;
    }
    buf[n] = 0;
    printf("cred: %s\n", buf);
}

static void size(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (n < 0)
        said("size", 0, NULL);
    else
        printf("size: %zd\n", n);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "serve") == 0) {
        printf("serve: started\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 2 && strcmp(argv[1], "attack") == 0) {
        try_clone3("clone3_time", CLONE_NEWTIME);
        try_clone3("clone3_time_user", CLONE_NEWTIME | CLONE_NEWUSER);
        try_setns_any();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "offsets") == 0) {
        offsets();
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "cred") == 0) {
        cred(argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "size") == 0) {
        size(argv[2]);
        return 0;
    }
    fprintf(stderr, "usage: redteam4_probe serve|attack|offsets|cred FILE|size FILE\n");
    return 2;
}
